// DAG sagas (R12, R13) by example: `after` at build time, steps running at once, the first failure
// stopping the run and asking the steps in flight to stop, other failures kept on the SagaError,
// compensations in reverse dependency order, the concurrency bound, and the dependency graph in
// what is handed over and journalled. The random DAGs against a reference model are in
// dag.property.test.ts.
import { err, ok } from "neverthrow";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isSagaError, releaseHeld, saga, type SagaError } from "../../src/index.js";
import { MemoryJournal, recover } from "../../src/journal/index.js";
import type { JournalRecord } from "../../src/journal/records.js";
import { fakeAdapter } from "../support/journal.js";

function loose(value: unknown): never {
  return value as never;
}

const sleep = (ms: number, log: string[], what: string, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    log.push(`start ${what}`);
    const t = setTimeout(() => {
      log.push(`end ${what}`);
      resolve();
    }, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      log.push(`aborted ${what}`);
      reject(new Error(`${what} aborted`));
    });
  });

describe("after, at build time", () => {
  it.each([
    [
      "a name declared later or never",
      () => saga("s").step("a", loose({ after: ["b"], run: () => 1 })),
      /step "a": after names "b", which is not a step declared before "a"/,
    ],
    [
      "its own name",
      () =>
        saga("s")
          .step("x", { run: () => 1 })
          .step("a", loose({ after: ["a"], run: () => 1 })),
      /saga "s": step "a": after names "a", which is not a step declared before "a"/,
    ],
    [
      "not an array",
      () =>
        saga("s")
          .step("a", { run: () => 1 })
          .step("b", loose({ after: "a", run: () => 1 })),
      /step "b": after must be an array of step names/,
    ],
  ])("refuses %s with a TypeError naming both steps", (_, build, message) => {
    expect(build).toThrow(TypeError);
    expect(build).toThrow(message);
  });

  it("says the graph: without after, the step just before", () => {
    const s = saga("s")
      .step("a", { run: () => 1 })
      .step("b", { after: [], run: () => 2 })
      .step("c", { after: ["a", "b"], run: () => 3 })
      .step("d", { run: () => 4 });
    expect(s.graph).toEqual([
      { name: "a", after: [] },
      { name: "b", after: [] },
      { name: "c", after: ["a", "b"] },
      { name: "d", after: ["c"] },
    ]);
  });

  it("refuses a concurrency that is not a positive integer", () => {
    const s = saga("s").step("a", { run: () => 1 });
    expect(() => s.run(undefined, { concurrency: 0 })).toThrow(/options.concurrency must be a positive integer, got 0/);
  });
});

describe("DAG runs", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs independent steps at once, each once its dependencies succeeded", async () => {
    const log: string[] = [];
    const s = saga("s")
      .step("a", { run: () => sleep(10, log, "a") })
      .step("b", { after: [], run: () => sleep(20, log, "b") })
      .step("c", { after: ["a"], run: () => sleep(5, log, "c") })
      .step("d", { after: ["b", "c"], run: () => sleep(1, log, "d") });
    const t0 = Date.now();
    const run = s.run();
    await vi.runAllTimersAsync();
    const r = await run;
    expect(r.isOk()).toBe(true);
    expect(log).toEqual(["start a", "start b", "end a", "start c", "end c", "end b", "start d", "end d"]);
    expect(Date.now() - t0, "the critical path b, d").toBe(21);
  });

  it("bounds the steps in flight by concurrency", async () => {
    const log: string[] = [];
    const s = saga("s")
      .step("a", { after: [], run: () => sleep(10, log, "a") })
      .step("b", { after: [], run: () => sleep(10, log, "b") })
      .step("c", { after: [], run: () => sleep(10, log, "c") });
    const t0 = Date.now();
    const run = s.run(undefined, { concurrency: 2 });
    await vi.runAllTimersAsync();
    expect((await run).isOk()).toBe(true);
    expect(log.slice(0, 2)).toEqual(["start a", "start b"]);
    expect(Date.now() - t0).toBe(20);
  });

  it("on the first failure starts nothing new, aborts the steps in flight, keeps their failures, and rolls back what they acquired", async () => {
    const log: string[] = [];
    const boom = new Error("boom");
    const s = saga("s")
      .step("slow", {
        after: [],
        run: (_, { signal }) => sleep(50, log, "slow", signal),
        compensate: () => void log.push("undo slow"),
      })
      .step("keeps", {
        after: [],
        run: async () => {
          await sleep(30, log, "keeps");
          return 1;
        },
        compensate: () => void log.push("undo keeps"),
      })
      .step("fails", { after: [], run: async () => (await sleep(10, log, "fails"), err(boom)) })
      .step("never", { after: ["fails"], run: () => void log.push("never ran") });
    const run = s.run();
    await vi.runAllTimersAsync();
    const r = await run;
    expect(r.isErr()).toBe(true);
    const e = r._unsafeUnwrapErr() as SagaError;
    expect(e.cause, "the primary cause: the first failure in time").toBe(boom);
    expect(e.origin).toBe("err");
    expect(isSagaError(e)).toBe(true);
    expect(e.concurrentFailures.map((f) => [f.step, f.origin, (f.error as Error).message])).toEqual([
      ["slow", "throw", "slow aborted"],
    ]);
    expect(log).not.toContain("never ran");
    // keeps ignores the signal and succeeds: what it made joins the rollback; slow made nothing.
    expect(log.filter((l) => l.startsWith("undo") || l.startsWith("aborted") || l.startsWith("end"))).toEqual([
      "end fails",
      "aborted slow",
      "end keeps",
      "undo keeps",
    ]);
  });
});

describe("hand-over, releaseHeld and the journal carry the graph", () => {
  it("writes after only where it is not the previous intent, and releaseHeld releases dependents first", async () => {
    const log: string[] = [];
    const adapter = fakeAdapter("fake", log);
    const journal = new MemoryJournal();
    const s = saga("s")
      .resource("net", adapter, { spec: () => ({ id: "net" }) })
      .resource("disk", adapter, { after: [], spec: () => ({ id: "disk" }) })
      .resource("ctr", adapter, { after: ["net", "disk"], spec: () => ({ id: "ctr" }) })
      .resource("log", adapter, { after: ["disk"], spec: () => ({ id: "log" }) });
    const r = await s.run(undefined, { journal });
    expect(r.isOk()).toBe(true);
    const held = r._unsafeUnwrap().held;
    expect(held.resources.map((h) => [h.step, h.after])).toEqual([
      ["net", undefined],
      ["disk", []],
      ["ctr", ["net", "disk"]],
      ["log", ["disk"]],
    ]);
    const intents = journal
      .lines()
      .map((l) => JSON.parse(l) as JournalRecord)
      .filter((x) => x.t === "intent");
    expect(intents.map((x) => [x.step, x.after])).toEqual([
      ["net", undefined],
      ["disk", []],
      ["ctr", ["net", "disk"]],
      ["log", ["disk"]],
    ]);
    log.length = 0;
    const released = await releaseHeld(held, [adapter], { journal });
    expect(released.isOk()).toBe(true);
    // log and ctr first (nothing is built on them), then net (after ctr) and disk (after ctr and
    // log); among releases ready together, the latest acquired goes first.
    expect(log).toEqual(["release log", "release ctr", "release disk", "release net"]);
  });

  it("keeps a chain's records and held resources as before: no after anywhere", async () => {
    const journal = new MemoryJournal();
    const adapter = fakeAdapter("fake", []);
    const r = await saga("s")
      .resource("a", adapter, { spec: () => ({ id: "a" }) })
      .step("p", { run: () => ok(1) })
      .resource("b", adapter, { spec: () => ({ id: "b" }) })
      .run(undefined, { journal });
    expect(r._unsafeUnwrap().held.resources.some((h) => "after" in h)).toBe(false);
    expect(journal.lines().some((l) => l.includes('"after"'))).toBe(false);
  });
});

describe("recover and releaseHeld under R12", () => {
  const line = (r: object): string => JSON.stringify({ v: 1, tx: "t1", ...r });
  /** An abandoned run: a (guarded), b (independent of a), c (built on a), all acquired. */
  const abandoned = (): MemoryJournal =>
    MemoryJournal.fromLines([
      line({ t: "begin", name: "s", at: 0 }),
      line({ t: "intent", step: "a", kind: "fake", guard: true, desc: { id: "a", acquired: false } }),
      line({ t: "intent", step: "b", kind: "fake", guard: false, desc: { id: "b", acquired: false }, after: [] }),
      line({ t: "intent", step: "c", kind: "fake", guard: false, desc: { id: "c", acquired: false }, after: ["a"] }),
    ]);

  it("recover: a failure in an unrelated branch does not retain a guarded release", async () => {
    const log: string[] = [];
    const report = (
      await recover(abandoned(), [fakeAdapter("fake", log, { failRelease: new Set(["b"]) })])
    )._unsafeUnwrap();
    expect(log).toEqual(["release c", "release-failed b", "release a"]);
    expect(report.retained).toEqual([]);
    expect(report.released.map((r) => r.step)).toEqual(["c", "a"]);
  });

  it("recover: a failure of a release built on it does", async () => {
    const log: string[] = [];
    const report = (
      await recover(abandoned(), [fakeAdapter("fake", log, { failRelease: new Set(["c"]) })])
    )._unsafeUnwrap();
    expect(log).toEqual(["release-failed c", "release b"]);
    expect(report.retained.map((r) => r.step)).toEqual(["a"]);
  });

  it("releaseHeld: the same guard rule", async () => {
    const log: string[] = [];
    const held = {
      saga: "s",
      tx: "t0",
      resources: [
        { step: "a", kind: "fake", guard: true, description: { id: "a", acquired: true } },
        { step: "b", kind: "fake", guard: false, description: { id: "b", acquired: true }, after: [] },
        { step: "c", kind: "fake", guard: false, description: { id: "c", acquired: true }, after: ["a"] },
      ],
    };
    const r = await releaseHeld(held, [fakeAdapter("fake", log, { failRelease: new Set(["b"]) })]);
    expect(log).toEqual(["release c", "release-failed b", "release a"]);
    expect(r._unsafeUnwrapErr().retained).toEqual([]);
  });
});
