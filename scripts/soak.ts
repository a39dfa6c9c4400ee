// `npm run soak`: sandbox lifecycles, 4-8 in parallel, with failpoints drawn from a seed (error,
// delay, SIGKILL at any step or cleanup, journal write failures), `recover` after every crash
// (recover itself sometimes killed too), then `rm` of everything listed, a final `recover` and
// `gc`, and a leak count measured on the host. A leak, or a resource released that we did not
// own, fails the run and prints the seed that reproduces it. Stops by itself (count and time).
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Runner } from "../examples/sandbox-runner/runner/index.js";
import { parsePodConfig } from "../examples/sandbox-runner/pod-config.js";
import { FAILPOINT_TARGETS } from "../examples/sandbox-runner/runner/steps.js";
import { buildCli, cliBundle } from "./build-cli.js";
import { pick, rng } from "./soak-rng.js";
import type { CycleReport, WorkerPlan } from "./soak-worker.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    cycles: { type: "string", default: "100" },
    parallel: { type: "string", default: "4" },
    "time-limit": { type: "string", default: "3600" },
    "crash-rate": { type: "string", default: "0.08" },
    "journal-fault-rate": { type: "string", default: "0.003" },
    json: { type: "boolean" },
  },
});
const seed = values.seed === undefined ? randomBytes(4).readUInt32BE() : Number(values.seed);
const cycles = Number(values.cycles);
const parallel = Number(values.parallel);
const timeLimitMs = Number(values["time-limit"]) * 1000;
if (![seed, cycles, parallel, timeLimitMs].every(Number.isFinite) || parallel < 1 || parallel > 16) {
  console.error("usage: npm run soak -- [--seed N] [--cycles N] [--parallel 1-16] [--time-limit SECONDS]");
  process.exit(2);
}
const random = rng(seed);
const tag = (seed % 0xffff).toString(16).padStart(4, "0");
const prefix = `soak${tag}-`;
const bridge = `soak${tag}br`;
const subnet = `10.250.${seed % 250}.0/24`;
const root = mkdtempSync(path.join(tmpdir(), `errdefer-soak-${tag}-`));
const stateDir = path.join(root, "state");
// host-local's allocations (--cni-data-dir): the soak's own, never the host's /var/lib/cni.
const cniDataDir = path.join(root, "cni-networks");
const here = path.dirname(fileURLToPath(import.meta.url));
const worker = path.join(here, "soak-worker.ts");
// The CLI as users run it, bundled (built here when stale); the worker through tsx.
await buildCli();
const cli = [cliBundle];
const workerArgv = ["--conditions=source", "--import", "tsx", worker];
const started = Date.now();

console.log(`soak: seed ${seed} (reproduce: npm run soak -- --seed ${seed} --cycles ${cycles} --parallel ${parallel})`);
console.log(`soak: state dir ${stateDir}, prefix ${prefix}, bridge ${bridge}, subnet ${subnet}`);

const counts = {
  cycles: 0,
  runs: 0,
  successes: 0,
  rollbacks: 0,
  retained: 0,
  removeFailures: 0,
  crashes: 0,
  recoverCrashes: 0,
  recovers: 0,
  journalFaults: 0,
};
const faults = new Map<string, number>();

function runChild(
  argv: readonly string[],
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...argv, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "ignore"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("exit", (code, signal) => resolve({ code, signal, stdout }));
  });
}

async function recoverUntilDone(): Promise<void> {
  for (;;) {
    counts.recovers++;
    // Sometimes recover itself is killed part-way, at a cleanup chosen from the seed.
    const crash = random() < 0.25 ? [`--failpoint`, `${pick(random, [...FAILPOINT_TARGETS])}=crash`] : [];
    const r = await runChild(
      cli,
      [
        "--state-dir",
        stateDir,
        "--cni-data-dir",
        cniDataDir,
        "--prefix",
        prefix,
        "--bridge",
        bridge,
        "--subnet",
        subnet,
        "-q",
        ...crash,
        "recover",
      ],
      {},
    );
    if (r.signal === "SIGKILL") {
      counts.recoverCrashes++;
      continue;
    }
    return;
  }
}

// Resources we own but the soak must never release: a sandbox living through the whole soak, and a
// namespace under another prefix.
const foreignNetns = `${prefix.replace("soak", "keep")}foreign`;
execFileSync("ip", ["netns", "add", foreignNetns]);
const sentinel = await (async () => {
  const runner = await Runner.open({ stateDir, cniDataDir, prefix, bridge, subnet });
  try {
    const config = parsePodConfig({
      metadata: { name: "sentinel", namespace: "soak", uid: "sentinel", attempt: 0 },
    })._unsafeUnwrap();
    return (await runner.run(config))._unsafeUnwrap();
  } finally {
    await runner.close();
  }
})();

let nextCycle = 0;
while (nextCycle < cycles && Date.now() - started < timeLimitMs) {
  const batch = Math.min(cycles - nextCycle, parallel * 10);
  const plan: WorkerPlan = {
    stateDir,
    cniDataDir,
    prefix,
    bridge,
    subnet,
    seed: Math.floor(random() * 2 ** 32),
    firstCycle: nextCycle,
    cycles: batch,
    parallel,
    crashRate: Number(values["crash-rate"]),
    journalFaultRate: Number(values["journal-fault-rate"]),
  };
  const r = await runChild(workerArgv, [], { SOAK_PLAN: JSON.stringify(plan) });
  const reports = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as CycleReport);
  for (const c of reports) {
    counts.cycles++;
    counts.runs++;
    if (c.ran) counts.successes++;
    if (c.rolledBack) counts.rollbacks++;
    if (c.retained) counts.retained++;
    if (!c.removed) counts.removeFailures++;
    if (c.journalFault) counts.journalFaults++;
    if (c.failpoint !== null)
      faults.set(c.failpoint.replace(/^.*=/, ""), (faults.get(c.failpoint.replace(/^.*=/, "")) ?? 0) + 1);
  }
  // Cycles cut short by the crash count as run (and crashed); the rest of the batch is redrawn.
  nextCycle += reports.length;
  if (r.signal === "SIGKILL") {
    counts.crashes++;
    counts.runs++;
    nextCycle++;
    faults.set("crash", (faults.get("crash") ?? 0) + 1);
    await recoverUntilDone();
  } else if (r.code !== 0) {
    console.error(`soak: a worker failed (exit ${r.code}); seed ${seed}`);
    process.exitCode = 1;
    break;
  }
  process.stderr.write(
    `\rsoak: ${counts.cycles} cycles, ${counts.crashes} crashes, ${Math.round((Date.now() - started) / 1000)} s`,
  );
}
process.stderr.write("\n");

// Final cleanup: the sentinel must have survived untouched; then rm everything, recover, gc.
const problems: string[] = [];
{
  await recoverUntilDone();
  const runner = await Runner.open({ stateDir, cniDataDir, prefix, bridge, subnet });
  try {
    const records = await runner.list();
    const s = records.find((x) => x.id === sentinel.id);
    if (s?.state !== "READY")
      problems.push(`the sentinel sandbox (owned by the soak) was ${s === undefined ? "removed" : s.state}`);
    if (!readdirSync(path.dirname(sentinel.netnsPath!)).includes(path.basename(sentinel.netnsPath!)))
      problems.push("the sentinel's netns was removed");
    for (const record of records) {
      const removed = await runner.remove(record.id);
      if (removed.isErr()) problems.push(`rm ${record.id}: ${removed.error.message}`);
    }
    const recovered = await runner.recover();
    if (recovered.isErr()) problems.push(`final recover: ${recovered.error.message}`);
    const gc = await runner.gc();
    if (gc.isOk())
      for (const [what, list] of Object.entries(gc.value))
        if (Array.isArray(list) && list.length > 0 && what !== "failed")
          problems.push(`gc had to collect ${what}: ${list.join(", ")}`);
  } finally {
    await runner.close();
  }
}
if (!execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).includes(foreignNetns))
  problems.push(`the foreign namespace ${foreignNetns} was removed`);
execFileSync("ip", ["netns", "del", foreignNetns]);

// Leaks measured on the host.
const sh = (cmd: string, args: string[]): string => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" });
  } catch {
    return "";
  }
};
const leaks: string[] = [];
const netns = sh("ip", ["netns", "list"])
  .split("\n")
  .filter((l) => l.startsWith(prefix));
leaks.push(...netns.map((l) => `netns ${l}`));
leaks.push(
  ...readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .filter((l) => l.includes(" nsfs ") && l.includes(prefix))
    .map((l) => `mount ${l}`),
);
leaks.push(
  ...sh("ip", ["-o", "link", "show", "master", bridge])
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => `veth ${l.split(":")[1]?.trim()}`),
);
leaks.push(
  ...sh("runc", ["--root", path.join(stateDir, "runc"), "list", "-q"])
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => `runc container ${l}`),
);
const ipam = cniDataDir;
for (const net of readdirSync(ipam)) {
  for (const f of readdirSync(path.join(ipam, net)))
    if (!f.startsWith("last_reserved_ip") && f !== "lock") leaks.push(`IP allocation ${net}/${f}`);
}
for (const dir of ["sandboxes", "names", "bundles"])
  for (const f of readdirSync(path.join(stateDir, dir))) leaks.push(`state file ${dir}/${f}`);
for (const f of readdirSync(path.join(stateDir, "journal"))) {
  if (statSync(path.join(stateDir, "journal", f)).size > 0) leaks.push(`journal segment ${f} still holds records`);
}
for (const controller of readdirSync("/sys/fs/cgroup")) {
  try {
    for (const d of readdirSync(path.join("/sys/fs/cgroup", controller)))
      if (d.startsWith(prefix)) leaks.push(`cgroup ${controller}/${d}`);
  } catch {
    // Not a directory.
  }
}
sh("ip", ["link", "del", bridge]);
rmSync(root, { recursive: true, force: true });

const seconds = Math.round((Date.now() - started) / 1000);
const summary = {
  seed,
  parallel,
  seconds,
  ...counts,
  faults: Object.fromEntries(faults),
  leaks: leaks.length,
  problems: problems.length,
};
if (values.json === true) console.log(JSON.stringify(summary));
else {
  const cut = counts.runs < cycles ? ` (stopped by --time-limit: ${cycles} asked)` : "";
  console.log(`soak: ${counts.cycles} cycles (${parallel} in parallel) in ${seconds} s${cut}`);
  console.log(
    `  runs ${counts.runs}, successes ${counts.successes}, rollbacks ${counts.rollbacks}, retained ${counts.retained}, remove failures ${counts.removeFailures}`,
  );
  console.log(
    `  crashes ${counts.crashes} (recovered), recover runs ${counts.recovers} (${counts.recoverCrashes} killed part-way), journal write faults ${counts.journalFaults}`,
  );
  console.log(`  faults injected: ${[...faults].map(([k, v]) => `${k} ${v}`).join(", ")}`);
  // Problems: a resource we did not own released, a final rm that failed, something gc had to collect.
  console.log(`  leaks: ${leaks.length}; problems (foreign releases, failed removals, gc finds): ${problems.length}`);
}
for (const l of leaks) console.error(`LEAK: ${l}`);
for (const p of problems) console.error(`PROBLEM: ${p}`);
if (leaks.length + problems.length > 0 || counts.removeFailures > 0) {
  console.error(
    `soak: FAILED; reproduce with: npm run soak -- --seed ${seed} --cycles ${cycles} --parallel ${parallel}`,
  );
  process.exitCode = 1;
}
