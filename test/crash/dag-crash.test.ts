// Crash tests of DAG sagas (issue 10, item 5): a child process runs a journalled DAG saga whose
// branches acquire (and, when it rolls back or releases what it held, release) at the same time,
// and SIGKILLs itself at a hook point passed with two or more operations in flight. Then this
// process runs recover() and checks: nothing is left; nothing the journal says is released is
// released again, and recovery releases each resource once, every resource before those it was
// built on (R12); a committed run's resources are the caller's; a second recover does nothing.
// No root needed: the resources are lines in an fsynced log (plan.ts). CI runs at least 30 kills.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { ok } from "neverthrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResourceAdapter } from "../../src/index.js";
import { FileJournal, recover } from "../../src/journal/index.js";
import { DAG_STEPS, type DagCrashConfig } from "./dag-plan.js";
import { bundleChild } from "../support/bundle-child.js";
import { appendLog, createLog, readLog } from "./plan.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const KILLS = Number(process.env.DAG_CRASH_KILLS ?? 30);
let workDir = "";
let childArgv: string[] = [];

function runChild(
  config: DagCrashConfig,
): Promise<{ signal: NodeJS.Signals | null; code: number | null; out: string }> {
  const child = spawn(process.execPath, [...childArgv, JSON.stringify(config)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, out }));
  });
}

/** For each step, every step built on it, transitively (R12). */
const builtOn = new Map<string, Set<string>>();
for (const { step } of DAG_STEPS) builtOn.set(step, new Set());
for (const { step, after } of DAG_STEPS) {
  const stack = [...after];
  while (stack.length > 0) {
    const d = stack.pop()!;
    builtOn.get(d)!.add(step);
    stack.push(...DAG_STEPS.find((s) => s.step === d)!.after);
  }
}

/** Steps whose `released` record reached the journal dir (any transaction of the run). */
function journalledReleases(dir: string): Set<string> {
  const released = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".jsonl"))) {
    for (const line of readFileSync(path.join(dir, f), "utf8").split("\n")) {
      try {
        const r = JSON.parse(line) as { t?: string; step?: string };
        if (r.t === "released" && r.step !== undefined) released.add(r.step);
      } catch {
        // A torn last line.
      }
    }
  }
  return released;
}

/** The parent's adapter: releases by logging, never fails, and notes the order. */
function recovering(log: string, order: string[]): ResourceAdapter<{ id: string }, { id: string }, { id: string }> {
  return {
    kind: "fake",
    plan: (spec) => spec,
    acquire: () => {
      throw new Error("recovery never acquires");
    },
    describe: (r) => r,
    release: (desc) => {
      appendLog(log, { ev: "release", id: desc.id });
      order.push(desc.id.slice(desc.id.lastIndexOf(":") + 1));
      return ok(undefined);
    },
  };
}

const stats = { runs: 0, kills: 0, inFlightAtKill: [] as string[] };

async function crashAndRecover(c: Omit<DagCrashConfig, "runId" | "journalDir" | "log">): Promise<void> {
  const runId = `d${stats.runs++}`;
  const runDir = path.join(workDir, runId);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const config: DagCrashConfig = {
    ...c,
    runId,
    journalDir: path.join(runDir, "journal"),
    log: path.join(runDir, "log"),
  };
  createLog(config.log);
  const child = await runChild(config);
  const events = readLog(config.log);
  const seen = new Set(events.map((e) => e.ev));
  const context = `${JSON.stringify(config)}\nchild: ${child.code} ${child.signal}\n${child.out}\n${JSON.stringify(events)}`;
  if (child.signal === "SIGKILL") {
    stats.kills++;
    const killed = events.filter((e) => e.ev === "killed");
    expect(killed, context).toHaveLength(1);
    stats.inFlightAtKill.push(killed[0]!.at!);
  } else {
    expect(child.code, context).toBe(0);
    expect(seen.has("done"), context).toBe(true);
  }
  const releasesIn = (evs: typeof events): Map<string, number> => {
    const n = new Map<string, number>();
    for (const e of evs) if (e.ev === "release") n.set(e.id!, (n.get(e.id!) ?? 0) + 1);
    return n;
  };
  // The child's own unwind releases each resource at most once.
  for (const [id, n] of releasesIn(events)) expect(n, `${id} released ${n} times by the child\n${context}`).toBe(1);

  const journalled = journalledReleases(config.journalDir);
  const order: string[] = [];
  const journal = new FileJournal(config.journalDir);
  try {
    const report = (await recover(journal, [recovering(config.log, order)]))._unsafeUnwrap();
    const state = `${context}\nrecovered: ${order.join(" ")}\nreport: ${JSON.stringify(report)}`;
    expect(report.failed, state).toEqual([]);
    expect(report.retained, state).toEqual([]);
    expect(new Set(order).size, `recovery releases each resource once\n${state}`).toBe(order.length);
    // Nothing the journal says is released is released again.
    for (const step of order) expect(journalled.has(step), `${step} was journalled as released\n${state}`).toBe(false);
    // R12: each resource before every one it was built on.
    order.forEach((x, i) => {
      for (const y of order.slice(i + 1))
        expect(builtOn.get(x)!.has(y), `${x} released before ${y}, built on it\n${state}`).toBe(false);
    });
    const committed = seen.has("commit-durable") && !seen.has("stop-adopted");
    if (committed) expect(order, `a committed run's resources are the caller's\n${state}`).toEqual([]);
    const again = (await recover(journal, [recovering(config.log, order)]))._unsafeUnwrap();
    expect({ transactions: again.transactions, released: again.released }, state).toEqual({
      transactions: 0,
      released: [],
    });
  } finally {
    await journal.close();
  }
  // What the journal no longer owned (handed over by a commit) the caller releases; then nothing
  // acquired may be left.
  const after = readLog(config.log);
  const held = new Map<string, boolean>();
  for (const e of after) {
    if (e.ev === "acquire") held.set(e.id!, true);
    if (e.ev === "release") held.set(e.id!, false);
  }
  const left = [...held]
    .filter(([, h]) => h)
    .map(([id]) => id.slice(id.indexOf(":") + 1))
    .sort();
  const handedOver = DAG_STEPS.map((s) => s.step)
    .filter((s) => s !== "tmp")
    .sort();
  if (seen.has("stop-adopted") || !seen.has("commit-requested")) {
    expect(left, `left after recovery\n${context}`).toEqual([]);
  } else if (seen.has("commit-durable")) {
    expect(left, `the caller owns what was handed over\n${context}`).toEqual(handedOver);
  } else {
    // Killed inside the commit's write: it reached the disk (the caller's) or not (all released).
    expect([[], handedOver], `left after a commit cut short\n${context}`).toContainEqual(left);
  }
  rmSync(runDir, { recursive: true, force: true });
}

const caseArb = fc.record({
  groupCommit: fc.boolean(),
  killAt: fc.integer({ min: 1, max: 14 }),
  failAt: fc.constantFrom("none", "none", "ready", "ctr", "logs", "vol"),
  failRelease: fc.constantFrom("none", "none", "ctr", "disk", "logs"),
  stop: fc.boolean(),
});

describe("crash: a DAG saga killed with several steps in flight is recovered by another process", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), "errdefer-dag-crash-"));
    childArgv = await bundleChild(path.join(here, "dag-child.ts"), workDir);
  }, 60_000);
  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  it(`at least ${KILLS} SIGKILLs with two or more operations in flight: nothing left, nothing released twice, dependents first`, async () => {
    // Random cases until enough of them died in flight (a kill point past the run's end is a
    // clean run, checked all the same). Each failure prints its case.
    for (const c of fc.sample(caseArb, KILLS * 3)) {
      await crashAndRecover(c);
      if (stats.kills >= KILLS) break;
    }
    console.log(
      `dag crash: ${stats.runs} runs, ${stats.kills} kills, e.g. ${stats.inFlightAtKill.slice(0, 3).join("; ")}`,
    );
    expect(stats.kills).toBeGreaterThanOrEqual(KILLS);
  }, 120_000);
});
