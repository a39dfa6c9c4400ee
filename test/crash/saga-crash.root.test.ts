// Crash tests on real namespaces: a child process runs a journalled saga (two namespaces, one in
// /var/run/netns and one in a custom dir, two fake resources, a committed sibling saga) and
// SIGKILLs itself at a hook point fast-check chooses; then this process runs recover() and checks
// that nothing is left, that the report says what was released, and that recovering again does nothing.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { AnyResourceAdapter, JsonValue } from "../../src/index.js";
import { FileJournal, recover, type RecoveryReport } from "../../src/journal/index.js";
import { defaultDriver, netnsAdapter } from "../../src/netns/index.js";
import { bundleChild } from "../support/bundle-child.js";
import { removeTestDir, testDir } from "../support/netns-dirs.js";
import { describeRoot } from "../support/root.js";
import { runPrefix } from "../support/run-prefix.js";
import { createLog, fakeAdapter, hookPoints, readLog, resourceSteps, type CrashConfig, type LogEvent } from "./plan.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const runs = Number(process.env.CRASH_RUNS ?? 50);
const workDir = testDir("crash");
const customDir = testDir("crash-ns");
const netnsDir = "/var/run/netns";

type Case = Omit<CrashConfig, "runId" | "prefix" | "customDir" | "journalDir" | "log">;
type Paths = { readonly nsA: string; readonly nsB: string };

/** How to start the child: its bundle (beforeAll). */
let childArgv: string[] = [];

interface ChildOutcome {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the child in its own process group and waits until nothing of that group runs on (ip, unshare). */
async function runChild(config: CrashConfig): Promise<ChildOutcome> {
  const child = spawn(process.execPath, [...childArgv, JSON.stringify(config)], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c, s) => resolve([c, s]));
  });
  const pid = child.pid!;
  // A helper the child started (the ip -batch process, an unshare) finishes its command after the
  // child died; recovery runs once the whole group is gone, as after a service manager's kill.
  for (let waited = 0; groupRuns(pid); waited += 5) {
    if (waited > 10_000) throw new Error(`process group ${pid} still runs 10 s after the child died`);
    await sleep(5);
  }
  return { pid, code, signal, stdout, stderr };
}

function groupRuns(pgid: number): boolean {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is the state, fields[2] the process group; a zombie runs nothing.
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true;
  }
  return false;
}

const mounts = (): string => readFileSync("/proc/self/mountinfo", "utf8");

/** The run's resources that exist now, by step. */
function live(paths: Paths, log: string, runId: string): Set<string> {
  const found = new Set<string>();
  const mountinfo = mounts();
  for (const [step, p] of Object.entries(paths)) {
    if (existsSync(p) || mountinfo.includes(` ${p} `)) found.add(step);
  }
  const held = new Map<string, boolean>();
  for (const e of readLog(log)) {
    if (e.ev === "acquire" && e.id !== undefined) held.set(e.id, true);
    if (e.ev === "release" && e.id !== undefined) held.set(e.id, false);
  }
  for (const [id, isHeld] of held) if (isHeld && id.startsWith(`${runId}:`)) found.add(id.slice(runId.length + 1));
  return found;
}

/** The transactions left in the journal dir's segments that still hold something (our own fold). */
function pendingInJournal(dir: string): string[] {
  const pending: string[] = [];
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".jsonl")) : [];
  for (const f of files) {
    const byTx = new Map<string, { committed: boolean; status: Map<string, string> }>();
    for (const line of readFileSync(path.join(dir, f), "utf8").split("\n")) {
      if (line === "") continue;
      const r = JSON.parse(line) as { tx: string; t: string; step?: string; resources?: { step: string }[] };
      const t = byTx.get(r.tx) ?? { committed: false, status: new Map<string, string>() };
      byTx.set(r.tx, t);
      if (r.t === "commit") t.committed = true;
      if (r.t === "adopt") for (const a of r.resources ?? []) t.status.set(a.step, r.t);
      if (r.step !== undefined && (r.t === "intent" || t.status.has(r.step))) t.status.set(r.step, r.t);
    }
    for (const [tx, t] of byTx) {
      if (!t.committed && [...t.status.values()].some((s) => s !== "released"))
        pending.push(`${f}: ${tx} ${JSON.stringify([...t.status])}`);
    }
  }
  return pending;
}

/** Wraps adapters so that every successful release is noted by step. */
function noting(adapters: readonly AnyResourceAdapter[], released: string[]): AnyResourceAdapter[] {
  const stepOf = (d: { name?: string; id?: string }) =>
    d.id !== undefined ? d.id.slice(d.id.lastIndexOf(":") + 1) : d.name?.endsWith("a") === true ? "nsA" : "nsB";
  return adapters.map((a) => ({
    ...a,
    release: async (desc: JsonValue, ctx: { signal: AbortSignal }) => {
      const out = await a.release(desc, ctx);
      const failed = typeof out === "object" && out !== null && "isErr" in out && (out as { isErr(): boolean }).isErr();
      if (!failed) released.push(stepOf(desc as { name?: string; id?: string }));
      return out as never;
    },
  }));
}

const categories = new Map<string, number>();
const category = (kill: string): string => kill.replace(/ns[AB]$/, "netns").replace(/fake[AB]$/, "fake");
let serial = 0;

async function crashAndRecover(c: Case): Promise<void> {
  const runId = `r${serial++}`;
  const runDir = path.join(workDir, runId);
  mkdirSync(runDir, { recursive: true });
  const config: CrashConfig = {
    ...c,
    runId,
    prefix: runPrefix,
    customDir,
    journalDir: path.join(runDir, "journal"),
    log: path.join(runDir, "fake.log"),
  };
  const paths: Paths = {
    nsA: path.join(netnsDir, `${runPrefix}${runId}a`),
    nsB: path.join(customDir, `${runPrefix}${runId}b`),
  };
  const ns = netnsAdapter({ dirs: [netnsDir, customDir], prefix: runPrefix });
  const fake = fakeAdapter(config.log);
  try {
    createLog(config.log);
    const child = await runChild(config);
    const events = readLog(config.log);
    const seen = new Set(events.map((e: LogEvent) => e.ev));
    const context = `${JSON.stringify(config)}\nchild: code ${child.code} signal ${child.signal}\n${child.stderr}${child.stdout}`;
    // The child died exactly where it was told (this also checks the model of the hook points).
    if (c.kill === "none") {
      categories.set("none", (categories.get("none") ?? 0) + 1);
      expect(child.code, context).toBe(0);
      expect(seen.has("done"), context).toBe(true);
    } else {
      expect(child.signal, context).toBe("SIGKILL");
      expect(
        events.filter((e) => e.ev === "killed").map((e) => e.at),
        context,
      ).toEqual([c.kill]);
      categories.set(category(c.kill), (categories.get(category(c.kill)) ?? 0) + 1);
    }

    const before = live(paths, config.log, runId);
    const released: string[] = [];
    const journal = new FileJournal(config.journalDir);
    let report: RecoveryReport;
    try {
      report = (await recover(journal, noting([ns, fake], released)))._unsafeUnwrap();
      const state = `${context}\nlive before recover: ${[...before].join(" ")}\nreport: ${JSON.stringify(report)}`;
      // The report says exactly what was released, failed and retained.
      expect(report.released.map((r) => r.step).sort(), state).toEqual([...released].sort());
      expect(report.failed, state).toEqual([]);
      expect(report.retained, state).toEqual([]);
      expect(
        report.issues.filter((i) => i.type !== "torn"),
        state,
      ).toEqual([]);
      for (const r of report.released) expect(["crash-main", "release:crash-main"], state).toContain(r.saga);
      // The committed sibling saga's resource belongs to its caller: recovery never touches it.
      expect(released, state).not.toContain("fakeS");
      if (seen.has("side-committed")) expect(before.has("fakeS"), state).toBe(true);

      const after = live(paths, config.log, runId);
      after.delete("fakeS");
      const committed = seen.has("commit-durable");
      const commitUnknown = seen.has("commit-requested") && !committed;
      const adopted = seen.has("stop-adopted");
      if (!seen.has("commit-requested") || adopted) {
        // The journal owned everything: all of it is released, and what was live is reported.
        expect([...after], state).toEqual([]);
        for (const step of before) if (step !== "fakeS") expect(released, state).toContain(step);
      } else if (committed && !seen.has("stop-begin")) {
        // Committed and handed over: recovery must release nothing.
        expect(report.released, state).toEqual([]);
        expect(report.transactions, state).toBe(0);
        const unchanged = new Set(before);
        unchanged.delete("fakeS");
        expect([...after].sort(), state).toEqual([...unchanged].sort());
      } else if (commitUnknown) {
        // Killed inside the commit: committed (nothing released) or not (everything released).
        expect(report.released.length === 0 || after.size === 0, state).toBe(true);
      } else if (seen.has("stop-begin")) {
        // Killed while releaseHeld adopted the resources (nothing released yet): the adoption is
        // one record, so recovery releases all of them, in reverse, or none (the caller keeps them).
        const none = released.length === 0;
        if (none) expect([...after].sort(), state).toEqual([...before].filter((s) => s !== "fakeS").sort());
        else expect(released, state).toEqual(resourceSteps(c).reverse());
      }

      // Recovering again releases nothing: with the same journal, and with a fresh one.
      const again = (await recover(journal, [ns, fake]))._unsafeUnwrap();
      expect({ transactions: again.transactions, released: again.released }, state).toEqual({
        transactions: 0,
        released: [],
      });
    } finally {
      await journal.close();
    }
    const fresh = new FileJournal(config.journalDir);
    try {
      const third = (await recover(fresh, [ns, fake]))._unsafeUnwrap();
      expect({ transactions: third.transactions, released: third.released }).toEqual({ transactions: 0, released: [] });
    } finally {
      await fresh.close();
    }
    expect(pendingInJournal(config.journalDir)).toEqual([]);

    // What the journal did not own (handed over by a commit, the sibling's) the caller releases
    // from its own knowledge of the plan; then nothing of the run may remain.
    for (const out of await releasePlan(ns, fake, paths, runId)) expect(out).toBe(true);
    expect([...live(paths, config.log, runId)]).toEqual([]);
    expect(mounts()).not.toContain(`${runPrefix}${runId}a `);
    expect(mounts()).not.toContain(`${runPrefix}${runId}b `);
  } finally {
    // After a failed check too: nothing of the run may stay on the host.
    await releasePlan(ns, fake, paths, runId);
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** Releases every resource the run may have made, straight through the adapters; true for each success. */
async function releasePlan(
  ns: AnyResourceAdapter,
  fake: AnyResourceAdapter,
  paths: Paths,
  runId: string,
): Promise<boolean[]> {
  const plan: [AnyResourceAdapter, JsonValue][] = [
    [fake, { id: `${runId}:fakeS` }],
    [fake, { id: `${runId}:fakeB` }],
    [ns, { dir: customDir, name: path.basename(paths.nsB) }],
    [fake, { id: `${runId}:fakeA` }],
    [ns, { dir: netnsDir, name: path.basename(paths.nsA) }],
  ];
  const outcomes: boolean[] = [];
  for (const [adapter, desc] of plan) {
    const out = (await adapter.release(desc, { signal: new AbortController().signal })) as
      { isErr?: () => boolean } | undefined;
    outcomes.push(!(out?.isErr?.() ?? false));
  }
  return outcomes;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    groupCommit: fc.boolean(),
    withB: fc.boolean(),
    failAt: fc.constantFrom("none" as const, "fakeB" as const, "finish" as const),
    failRelease: fc.constantFrom("none" as const, "fakeA" as const, "fakeB" as const),
    stop: fc.boolean(),
  })
  .chain((c) => fc.constantFrom("none", ...hookPoints(c)).map((kill) => ({ ...c, kill })));

const base = { groupCommit: true, withB: true, failAt: "none", failRelease: "none", stop: false } as const;
/** Fixed kill points every CI run covers, besides the random ones. */
const examples: Case[] = [
  { ...base, kill: "none" },
  { ...base, failAt: "finish", failRelease: "fakeB", kill: "none" },
  { ...base, kill: "before:main/intent:nsB" },
  { ...base, groupCommit: false, kill: "after:main/intent:fakeA" },
  { ...base, kill: "acquire-cmd:nsA" },
  { ...base, kill: "acquire-cmd:nsB" },
  { ...base, kill: "acquire-after:nsB" },
  { ...base, failAt: "fakeB", kill: "acquire-after:fakeB" },
  { ...base, kill: "write:main/commit" },
  { ...base, kill: "after:main/commit" },
  { ...base, failAt: "finish", kill: "release-cmd:nsB" },
  { ...base, failAt: "finish", kill: "release-after:fakeA" },
  { ...base, failAt: "finish", failRelease: "fakeB", kill: "before:main/retained:nsB" },
  { ...base, stop: true, kill: "release-cmd:nsA" },
  { ...base, stop: true, groupCommit: false, kill: "before:stop/adopt" },
  { ...base, stop: true, kill: "write:stop/adopt" },
  { ...base, stop: true, groupCommit: false, kill: "after:stop/adopt" },
];

describeRoot("crash: a saga killed with SIGKILL anywhere is recovered by another process", () => {
  beforeAll(async () => {
    mkdirSync(workDir, { recursive: true, mode: 0o700 });
    childArgv = await bundleChild(path.join(here, "child.ts"), workDir);
  }, 60_000);

  afterAll(async () => {
    await defaultDriver().close();
    removeTestDir(customDir);
    rmSync(workDir, { recursive: true, force: true });
  });

  it("every example kill point is one the child passes", () => {
    for (const e of examples) if (e.kill !== "none") expect(hookPoints(e)).toContain(e.kill);
  });

  it(`${runs} random kill points (and ${examples.length} fixed ones): recover leaves nothing, reports it, and a second recover does nothing`, async () => {
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => crashAndRecover(c)),
      { numRuns: runs + examples.length, examples: examples.map((e) => [e]), endOnFailure: true },
    );
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `crash: ${serial} runs in ${seconds} s; kill points by kind: ${[...categories]
        .sort()
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")}`,
    );
    // No namespace with the run's prefix is left, by ip's own listing either.
    const listed = await new Promise<string>((resolve, reject) => {
      const ip = spawn("ip", ["netns", "list"], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      ip.stdout.on("data", (d: Buffer) => (out += d.toString()));
      ip.on("error", reject);
      ip.on("close", () => resolve(out));
    });
    expect(listed).not.toContain(runPrefix);
  }, 240_000);

  // Fails today: recovery adopts a dead segment's finished transactions (the committed sibling,
  // and the main saga that had only begun) and never drops them, so the recovering process's
  // segment outlives close() and every later recovery copies the same records again.
  it("after recovery and close, the journal dir holds no segment (finished transactions are compacted away)", async () => {
    const runId = `r${serial++}`;
    const runDir = path.join(workDir, runId);
    mkdirSync(runDir, { recursive: true });
    const journalDir = path.join(runDir, "journal");
    const config: CrashConfig = {
      ...base,
      kill: "before:main/intent:nsA",
      runId,
      prefix: runPrefix,
      customDir,
      journalDir,
      log: path.join(runDir, "fake.log"),
    };
    const paths: Paths = {
      nsA: path.join(netnsDir, `${runPrefix}${runId}a`),
      nsB: path.join(customDir, `${runPrefix}${runId}b`),
    };
    const ns = netnsAdapter({ dirs: [netnsDir, customDir], prefix: runPrefix });
    const fake = fakeAdapter(config.log);
    try {
      createLog(config.log);
      expect((await runChild(config)).signal).toBe("SIGKILL");
      const journal = new FileJournal(journalDir);
      const report = (await recover(journal, [ns, fake]))._unsafeUnwrap();
      await journal.close();
      expect(report.released).toEqual([]);
      expect(readdirSync(journalDir).filter((f) => f.endsWith(".jsonl"))).toEqual([]);
    } finally {
      await releasePlan(ns, fake, paths, runId);
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
