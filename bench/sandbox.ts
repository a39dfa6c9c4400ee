// The sandbox table (issue 5, Benchmark): the pod sandbox lifecycle run -> stop -> remove through
// the runner's library API, in-process, next to the component floor measured in this same run:
// the same work done by bare commands started from Node with child_process (ip netns add, CNI
// bridge+loopback ADD, runc create+start of the same pause bundle, kill + wait for the pause
// process, runc delete, CNI DEL, ip netns del). Sequential cycles are interleaved with floor
// cycles (paired), then 4 workers run each side in turn. Everything made is removed at the end.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parsePodConfig, type PodConfig } from "../examples/sandbox-runner/pod-config.js";
import { ensureRootfs, pauseConfig } from "../examples/sandbox-runner/runc/index.js";
import { Runner } from "../examples/sandbox-runner/runner/index.js";
import { formatTable, gc, median } from "./measure.js";
import { must, sh } from "./shell.js";

const PREFIX = "edbench-";
const BRIDGE = "edbench0";
const SUBNET = "10.253.0.0/24";
const NETWORK = "edbench";
const CNI_BIN = "/usr/lib/cni";
const NETNS_DIR = "/var/run/netns";
const WARMUP_CYCLES = 4;
const SEQ_CYCLES = 30;
const PAR_CYCLES = 60;
const WIDTH = 4;
// Issue 10: a sequential cycle at most 0.8x the serial floor's time; 4 in parallel at least 1.2x its rate.
const TARGET_RATIO = 0.8;
const TARGET_PAR_RATIO = 1.2;
const CONTAINERD_PAR_RATE = "12.4-13.4";

// --- bare commands -----------------------------------------------------------------------------

const FLOOR_PARTS = [
  "ip netns add",
  "CNI ADD",
  "runc create+start",
  "kill+wait",
  "runc delete",
  "CNI DEL",
  "ip netns del",
] as const;
type FloorPart = (typeof FLOOR_PARTS)[number];

interface Floor {
  readonly runcRoot: string;
  readonly bundles: string;
  readonly rootfs: string;
  readonly plugins: readonly Record<string, unknown>[];
}

let floorSerial = 0;

/** Stdin of one plugin of the list, as libcni builds it. */
function pluginConf(plugin: Record<string, unknown>, prevResult: unknown): string {
  return JSON.stringify({
    ...plugin,
    cniVersion: "1.0.0",
    name: NETWORK,
    ...(prevResult === undefined ? {} : { prevResult }),
  });
}

/** The pause process has exited (gone, or a zombie waiting for PID 1). */
async function exited(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

/**
 * One floor cycle; adds each part's ms to `parts` (serial only); returns the cycle's ms. `overlap`:
 * the parallel floor, the same commands with the runner's overlap (CNI ADD beside runc
 * create+start; CNI DEL beside kill+wait+delete).
 */
async function floorCycle(f: Floor, parts: Map<FloorPart, number[]>, overlap = false): Promise<number> {
  const n = floorSerial++;
  const ns = `${PREFIX}f${process.pid}-${n}`;
  const nsPath = path.join(NETNS_DIR, ns);
  const cid = `${PREFIX}f${randomBytes(8).toString("hex")}`;
  const bundle = path.join(f.bundles, cid);
  const cni = (command: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: cid,
    CNI_NETNS: nsPath,
    CNI_IFNAME: "eth0",
    CNI_PATH: CNI_BIN,
  });
  const runc = ["runc", "--root", f.runcRoot];
  const times: [FloorPart, number][] = [];
  let t = performance.now();
  const lap = (part: FloorPart) => {
    const now = performance.now();
    times.push([part, now - t]);
    t = now;
  };
  const start = t;
  await must(["ip", "netns", "add", ns]);
  lap("ip netns add");
  let prev: unknown;
  const cniAdd = async () => {
    for (const plugin of f.plugins) {
      const r = await must([path.join(CNI_BIN, plugin.type as string)], {
        env: cni("ADD"),
        input: pluginConf(plugin, prev),
      });
      prev = JSON.parse(r.stdout);
    }
  };
  const pidFile = path.join(bundle, "pid");
  const container = async () => {
    // The bundle is written here but not timed as a part (the runner's create-bundle step is
    // timed on its side): a mkdir and a small file.
    await mkdir(bundle, { recursive: true, mode: 0o700 });
    await writeFile(
      path.join(bundle, "config.json"),
      JSON.stringify(
        pauseConfig({
          bundleDir: bundle,
          rootfs: f.rootfs,
          hostname: "edbench",
          netnsPath: nsPath,
          cgroupsPath: `/${cid}`,
        }),
      ),
    );
    if (!overlap) t = performance.now();
    await must([...runc, "create", "--bundle", bundle, "--pid-file", pidFile, cid], { quiet: true });
    await must([...runc, "start", cid]);
  };
  const stopContainer = async () => {
    const pid = Number(await readFile(pidFile, "utf8"));
    await must([...runc, "kill", cid, "KILL"]);
    while (!(await exited(pid))) await sleep(1);
    if (!overlap) lap("kill+wait");
    await must([...runc, "delete", cid]);
    if (!overlap) lap("runc delete");
  };
  const cniDel = async () => {
    for (const plugin of [...f.plugins].reverse()) {
      await must([path.join(CNI_BIN, plugin.type as string)], { env: cni("DEL"), input: pluginConf(plugin, prev) });
    }
  };
  if (overlap) {
    await Promise.all([cniAdd(), container()]);
    await Promise.all([stopContainer(), cniDel()]);
  } else {
    await cniAdd();
    lap("CNI ADD");
    await container();
    lap("runc create+start");
    await stopContainer();
    await cniDel();
    lap("CNI DEL");
  }
  await must(["ip", "netns", "del", ns]);
  lap("ip netns del");
  const total = performance.now() - start;
  await rm(bundle, { recursive: true, force: true });
  if (!overlap) for (const [part, ms] of times) parts.get(part)!.push(ms);
  return total;
}

// --- the runner --------------------------------------------------------------------------------

/** Per-step durations from the runner's progress lines (" ✔ cni-add   13 ms", "   ↩ cni-del  20 ms"). */
const STEP_LINE = /^\s*[✔↩]\s+(\S+)\s+([\d.]+) ms/;

let podSerial = 0;
function podConfig(): PodConfig {
  const n = podSerial++;
  const parsed = parsePodConfig({
    metadata: { name: `bench-${n}`, namespace: "edbench", uid: `uid-${n}`, attempt: 0 },
    hostname: `bench-${n}`,
    linux: { security_context: { namespace_options: { network: "POD" } } },
  });
  if (parsed.isErr()) throw parsed.error;
  return parsed.value;
}

interface Cycle {
  readonly run: number;
  readonly stop: number;
  readonly remove: number;
  readonly total: number;
}

async function runnerCycle(runner: Runner): Promise<Cycle> {
  const t0 = performance.now();
  const ran = await runner.run(podConfig());
  const t1 = performance.now();
  if (ran.isErr()) throw ran.error;
  const stopped = await runner.stop(ran.value.id);
  const t2 = performance.now();
  if (stopped.isErr()) throw stopped.error;
  const removed = await runner.remove(ran.value.id);
  const t3 = performance.now();
  if (removed.isErr()) throw removed.error;
  return { run: t1 - t0, stop: t2 - t1, remove: t3 - t2, total: t3 - t0 };
}

/** Cycles per second of `cycles` cycles run by `width` workers. */
async function rate(cycles: number, width: number, cycle: () => Promise<unknown>): Promise<number> {
  let left = cycles;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (left-- > 0) await cycle();
    }),
  );
  return cycles / ((performance.now() - started) / 1000);
}

// --- figures -----------------------------------------------------------------------------------

function p90(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)]!;
}

const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root";
  for (const file of [
    path.join(CNI_BIN, "bridge"),
    path.join(CNI_BIN, "host-local"),
    path.join(CNI_BIN, "loopback"),
    "/usr/bin/busybox",
  ]) {
    if (!existsSync(file)) return `${file} is missing`;
  }
  return undefined;
}

/** What `npm run bench -- sandbox --json` prints. */
export interface SandboxSummary {
  readonly sequentialCycleMs: number;
  readonly serialFloorMs: number;
  readonly parallelFloorMs: number;
  readonly sequentialRatioToSerialFloor: number;
  readonly sequentialRatioToParallelFloor: number;
  readonly parallelRate: number;
  readonly floorParallelRate: number;
  readonly overlappedFloorParallelRate: number;
  readonly width: number;
  readonly journalSyncsPerCycle: number;
}

export async function run(): Promise<SandboxSummary | undefined> {
  // bench/index.ts sends console output to stderr under --json and prints the summary.
  const print = console.log;
  let summary: SandboxSummary | undefined;
  const why = missing();
  if (why !== undefined) {
    print(`sandbox: skipped (${why})`);
    return undefined;
  }
  const tmp = await mkdtemp(path.join(tmpdir(), PREFIX));
  const floor: Floor = {
    runcRoot: path.join(tmp, "floor", "runc"),
    bundles: path.join(tmp, "floor", "bundles"),
    rootfs: path.join(tmp, "floor", "rootfs"),
    plugins: [
      {
        type: "bridge",
        bridge: BRIDGE,
        isGateway: false,
        ipMasq: false,
        ipam: { type: "host-local", ranges: [[{ subnet: SUBNET }]], dataDir: path.join(tmp, "floor", "ipam") },
      },
      { type: "loopback" },
    ],
  };
  const steps = new Map<string, number[]>();
  let collect = false;
  let runner: Runner | undefined;
  let failure: unknown;
  try {
    await mkdir(floor.bundles, { recursive: true, mode: 0o700 });
    await mkdir(floor.runcRoot, { recursive: true, mode: 0o700 });
    (await ensureRootfs(floor.rootfs))._unsafeUnwrap();
    runner = await Runner.open({
      stateDir: path.join(tmp, "state"),
      cniDataDir: path.join(tmp, "cni-networks"),
      netnsDir: NETNS_DIR,
      prefix: PREFIX,
      bridge: BRIDGE,
      subnet: SUBNET,
      networkName: NETWORK,
      write: (line) => {
        if (!collect) return;
        const m = STEP_LINE.exec(line);
        if (m !== null) steps.set(m[1]!, [...(steps.get(m[1]!) ?? []), Number(m[2])]);
      },
    });
    const r = runner;
    const parts = new Map<FloorPart, number[]>(FLOOR_PARTS.map((p) => [p, []]));
    const scratch = new Map<FloorPart, number[]>(FLOOR_PARTS.map((p) => [p, []]));

    // Warm-up: page cache, the plugin and runc binaries, the JIT, the netns batch driver.
    for (let i = 0; i < WARMUP_CYCLES; i++) {
      await floorCycle(floor, scratch);
      await runnerCycle(r);
    }
    await rate(WIDTH * 2, WIDTH, () => floorCycle(floor, scratch));
    await rate(WIDTH * 2, WIDTH, () => runnerCycle(r));
    gc();

    // Sequential: runner and floor cycles alternate, so drift on a noisy VM hits both alike.
    const cycles: Cycle[] = [];
    const floors: number[] = [];
    const overlapped: number[] = [];
    const syncsBefore = r.journal.syncs;
    collect = true;
    for (let i = 0; i < SEQ_CYCLES; i++) {
      if (i % 2 === 0) {
        floors.push(await floorCycle(floor, parts));
        overlapped.push(await floorCycle(floor, parts, true));
        cycles.push(await runnerCycle(r));
      } else {
        cycles.push(await runnerCycle(r));
        overlapped.push(await floorCycle(floor, parts, true));
        floors.push(await floorCycle(floor, parts));
      }
    }
    collect = false;
    const syncsPerCycle = (r.journal.syncs - syncsBefore) / SEQ_CYCLES;

    // 4 in parallel: each side in two halves, alternated.
    const parRunner: number[] = [];
    const parFloor: number[] = [];
    const parOverlapped: number[] = [];
    const parCycles: Cycle[] = [];
    for (let half = 0; half < 2; half++) {
      parFloor.push(await rate(PAR_CYCLES / 2, WIDTH, () => floorCycle(floor, scratch)));
      parOverlapped.push(await rate(PAR_CYCLES / 2, WIDTH, () => floorCycle(floor, scratch, true)));
      parRunner.push(await rate(PAR_CYCLES / 2, WIDTH, async () => parCycles.push(await runnerCycle(r))));
    }
    const parRate = PAR_CYCLES / parRunner.reduce((s, x) => s + PAR_CYCLES / 2 / x, 0);
    const parFloorRate = PAR_CYCLES / parFloor.reduce((s, x) => s + PAR_CYCLES / 2 / x, 0);
    const parOverlappedRate = PAR_CYCLES / parOverlapped.reduce((s, x) => s + PAR_CYCLES / 2 / x, 0);

    // --- print ---
    const col = (xs: readonly number[]) => [fmt(median(xs)), fmt(p90(xs))];
    const cycleMed = median(cycles.map((c) => c.total));
    const floorMed = median(floors);
    const ratio = cycleMed / floorMed;
    const overlappedMed = median(overlapped);
    const ratioToOverlapped = cycleMed / overlappedMed;
    const paired = median(cycles.map((c, i) => c.total / floors[i]!));
    print(
      `\nsandbox: run -> stop -> remove through the library API vs the same work as bare commands (ms; ${SEQ_CYCLES} sequential cycles, interleaved)`,
    );
    print(
      formatTable(
        ["", "median", "p90"],
        [
          ["run (RunPodSandbox)", ...col(cycles.map((c) => c.run))],
          ["stop (StopPodSandbox)", ...col(cycles.map((c) => c.stop))],
          ["remove (RemovePodSandbox)", ...col(cycles.map((c) => c.remove))],
          ["full cycle", ...col(cycles.map((c) => c.total))],
          ["serial floor: bare commands, summed", ...col(floors)],
          ...FLOOR_PARTS.map((p) => [`  ${p}`, ...col(parts.get(p)!)]),
          ["parallel floor: the same, with the runner's overlap", ...col(overlapped)],
        ],
      ),
    );
    print(
      formatTable(
        ["runner step (progress lines)", "median", "p90"],
        [...steps.entries()].map(([name, xs]) => [name, ...col(xs)]),
      ),
    );
    print(`journal fsyncs per cycle: ${syncsPerCycle.toFixed(1)}`);
    print(
      formatTable(
        ["", "runner", "serial floor", "parallel floor", "runner / serial floor", "target", ""],
        [
          [
            "sequential cycles/s",
            (1000 / cycleMed).toFixed(1),
            (1000 / floorMed).toFixed(1),
            (1000 / overlappedMed).toFixed(1),
            `${ratio.toFixed(2)}x time`,
            `<= ${TARGET_RATIO}x`,
            verdict(ratio <= TARGET_RATIO),
          ],
          [
            `${WIDTH} in parallel cycles/s`,
            parRate.toFixed(1),
            parFloorRate.toFixed(1),
            parOverlappedRate.toFixed(1),
            `${(parRate / parFloorRate).toFixed(2)}x rate`,
            `>= ${TARGET_PAR_RATIO}x`,
            verdict(parRate >= TARGET_PAR_RATIO * parFloorRate),
          ],
        ],
      ),
    );
    print(
      `cycle/floor: ${ratio.toFixed(2)}x (median of paired ratios ${paired.toFixed(2)}x); ${WIDTH} in parallel: ${parRate.toFixed(1)} cycles/s ` +
        `(median cycle ${fmt(median(parCycles.map((c) => c.total)))} ms; containerd 1.6 here: ${CONTAINERD_PAR_RATE}/s). ` +
        `The floor includes runc delete, which the runner's stop does too. ` +
        `Time to the parallel floor: ${ratioToOverlapped.toFixed(2)}x.`,
    );
    summary = {
      sequentialCycleMs: cycleMed,
      serialFloorMs: floorMed,
      parallelFloorMs: overlappedMed,
      sequentialRatioToSerialFloor: ratio,
      sequentialRatioToParallelFloor: ratioToOverlapped,
      parallelRate: parRate,
      floorParallelRate: parFloorRate,
      overlappedFloorParallelRate: parOverlappedRate,
      width: WIDTH,
      journalSyncsPerCycle: syncsPerCycle,
    };
  } catch (e) {
    failure = e;
  } finally {
    await cleanup(tmp, floor, runner);
  }
  if (failure !== undefined) throw failure;
  return summary;
}

/** Removes every sandbox, whatever gc finds, the floor's containers and namespaces, the bridge and the temp dir. */
async function cleanup(tmp: string, floor: Floor, runner: Runner | undefined): Promise<void> {
  const problems: string[] = [];
  if (runner !== undefined) {
    try {
      for (const rec of await runner.list()) {
        const removed = await runner.remove(rec.id);
        if (removed.isErr()) problems.push(`rm ${rec.id}: ${removed.error.message}`);
      }
      const swept = await runner.gc();
      if (swept.isErr()) problems.push(`gc: ${swept.error.message}`);
      else problems.push(...swept.value.failed);
    } catch (e) {
      problems.push(`runner cleanup: ${String(e)}`);
    }
    await runner.close().catch((e: unknown) => problems.push(`close: ${String(e)}`));
  }
  // The floor's containers (a failed cycle may leave one), then its namespaces.
  const listed = await sh(["runc", "--root", floor.runcRoot, "list", "-q"]).catch(() => undefined);
  for (const cid of listed?.stdout.split("\n").filter((l) => l.startsWith(PREFIX)) ?? []) {
    await sh(["runc", "--root", floor.runcRoot, "delete", "--force", cid]).catch(() => undefined);
  }
  const netns = await sh(["ip", "netns", "list"]).catch(() => undefined);
  for (const line of netns?.stdout.split("\n") ?? []) {
    const name = line.split(" ")[0] ?? "";
    if (name.startsWith(`${PREFIX}f${process.pid}-`)) {
      const del = await sh(["ip", "netns", "del", name]);
      if (del.code !== 0) problems.push(`ip netns del ${name}: ${del.stderr.trim()}`);
    }
  }
  const link = await sh(["ip", "link", "del", BRIDGE]).catch(() => undefined);
  if (link !== undefined && link.code !== 0 && !/Cannot find device/.test(link.stderr))
    problems.push(`ip link del ${BRIDGE}: ${link.stderr.trim()}`);
  await rm(tmp, { recursive: true, force: true }).catch((e: unknown) => problems.push(`rm ${tmp}: ${String(e)}`));
  if (problems.length > 0) console.error(`sandbox: cleanup problems:\n  ${problems.join("\n  ")}`);
}
