// R11 (docs/semantics.md): a saga hands its resources over only at the very end of a run whose
// steps all succeeded, after every on-always compensation and release has run, and only if none of
// them failed or set retErr. Otherwise nothing is handed over: the run rolls back every on-error
// step and returns Err. The commit record is written at that point, so the journal never says
// "handed over" for a run that returned Err.
import { describe, expect, test } from "vitest";
import { saga, type TransactionEvent } from "../../src/index.js";
import { MemoryJournal, recover, type JournalRecord } from "../../src/journal/index.js";
import { foldTransaction } from "../../src/journal/records.js";
import { fakeAdapter } from "../support/journal.js";
import { describeRecord, FaultyJournal } from "./faulty-journal.js";

/** The one transaction a saga left in `lines`, folded. */
function folded(lines: readonly string[]) {
  const records = lines.map((l) => JSON.parse(l) as JournalRecord);
  const tx = records[0]!.tx;
  return foldTransaction(
    tx,
    records.filter((r) => r.tx === tx),
  );
}

describe("R11: nothing is handed over before every on-always cleanup has succeeded", () => {
  // The colleague's repro of issue 11 item 4: the commit was written before the success unwind,
  // so the failing on-always compensation turned a committed run into an Err with no `held`; `a`
  // was skipped (the run was not failing at its turn), the journal said the caller owned it, and
  // recover never touched it: leaked.
  test("a failing on-always compensation: Err, the on-error resource registered after it released, nothing committed", async () => {
    const journal = new MemoryJournal();
    const log: string[] = [];
    const fake = fakeAdapter("fake", log);
    const failure = new Error("post cleanup failed");
    const r = await saga("s")
      .step("post", { run: () => 1, on: "always", compensate: () => Promise.reject(failure) })
      .resource("a", fake, { spec: () => ({ id: "a" }) })
      .run(undefined, { journal });
    const e = r._unsafeUnwrapErr();
    expect(e.cause).toBe(failure);
    expect(e.origin).toBe("cleanup");
    expect(e.cleanupFailures).toEqual([{ label: "post", error: failure }]);
    expect(log).toEqual(["acquire a", "release a"]);
    const t = folded(journal.lines());
    expect(t.committed).toBe(false);
    expect(t.resources.map((x) => [x.step, x.status])).toEqual([["a", "released"]]);
    expect((await recover(journal, [fake]))._unsafeUnwrap().transactions).toBe(0);
  });

  test("a failing on-always release: every on-error resource is rolled back, in reverse, guards applying; what is kept is recoverable", async () => {
    const journal = new MemoryJournal();
    const log: string[] = [];
    const failRelease = new Set(["tmp"]);
    const fake = fakeAdapter("fake", log, { failRelease });
    const r = await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }), guard: true })
      .resource("tmp", fake, { spec: () => ({ id: "tmp" }), on: "always" })
      .resource("b", fake, { spec: () => ({ id: "b" }) })
      .run(undefined, { journal });
    const e = r._unsafeUnwrapErr();
    expect(e.origin).toBe("cleanup");
    expect(e.cleanupFailures.map((f) => f.label)).toEqual(["tmp"]);
    // tmp (on always) first; then the rollback: b, and a is guarded after a failure (R3).
    expect(log).toEqual(["acquire a", "acquire tmp", "acquire b", "release-failed tmp", "release b"]);
    expect(e.retained).toEqual([{ label: "a" }]);
    const t = folded(journal.lines());
    expect(t.committed).toBe(false);
    expect(t.resources.map((x) => [x.step, x.status])).toEqual([
      ["a", "retained"],
      ["tmp", "release-failed"],
      ["b", "released"],
    ]);
    failRelease.clear();
    const report = (await recover(journal, [fake]))._unsafeUnwrap();
    expect(report.released.map((x) => x.step)).toEqual(["tmp", "a"]);
  });

  test("an on-always compensation that sets retErr fails the run (R5) and rolls it back", async () => {
    const log: string[] = [];
    const reason = new Error("post says no");
    const r = await saga("s")
      .resource("a", fakeAdapter("fake", log), { spec: () => ({ id: "a" }) })
      .step("post", { run: () => 1, on: "always", compensate: (_, c) => c.setRetErr(reason) })
      .run();
    const e = r._unsafeUnwrapErr();
    expect(e.cause).toBe(reason);
    expect(e.origin).toBe("set");
    expect(log).toEqual(["acquire a", "release a"]);
  });

  test("on success: the on-always cleanups run, then the commit, and the on-error resources are handed over untouched", async () => {
    const journal = new FaultyJournal();
    const log: string[] = [];
    const fake = fakeAdapter("fake", log);
    const r = await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }) })
      .resource("tmp", fake, { spec: () => ({ id: "tmp" }), on: "always" })
      .step("post", { run: () => 1, on: "always", compensate: () => void log.push("undo post") })
      .resource("b", fake, { spec: () => ({ id: "b" }) })
      .run(undefined, { journal });
    expect(r._unsafeUnwrap().held.resources.map((x) => x.step)).toEqual(["a", "b"]);
    expect(log).toEqual(["acquire a", "acquire tmp", "acquire b", "undo post", "release tmp"]);
    const records = journal.appends.map((x) => describeRecord(x.record));
    expect(records.slice(records.indexOf("released:tmp"))).toEqual(["released:tmp", "commit", "end"]);
    expect(folded(journal.lines()).resources.map((x) => [x.step, x.status])).toEqual([
      ["a", "handed-over"],
      ["tmp", "released"],
      ["b", "handed-over"],
    ]);
  });

  test("the cleanups are registered (events) in the order they will be unwound: on-error first, then on-always", async () => {
    const events: TransactionEvent[] = [];
    const fake = fakeAdapter("fake", []);
    await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }) })
      .resource("tmp", fake, { spec: () => ({ id: "tmp" }), on: "always" })
      .resource("b", fake, { spec: () => ({ id: "b" }) })
      .run(undefined, { onEvent: (e) => events.push(e) });
    expect(events.flatMap((e) => (e.type === "cleanup:registered" ? [`${e.label}:${e.on}`] : []))).toEqual([
      "a:error",
      "b:error",
      "tmp:always",
    ]);
    expect(events.flatMap((e) => (e.type === "cleanup:started" ? [e.label] : []))).toEqual(["tmp"]);
  });

  test("a saga that fails at a step still unwinds in plain reverse step order", async () => {
    const log: string[] = [];
    const fake = fakeAdapter("fake", log);
    const r = await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }) })
      .resource("tmp", fake, { spec: () => ({ id: "tmp" }), on: "always" })
      .resource("b", fake, { spec: () => ({ id: "b" }) })
      .step("fail", { run: () => Promise.reject(new Error("step failed")) })
      .run();
    expect(r.isErr()).toBe(true);
    expect(log.slice(3)).toEqual(["release b", "release tmp", "release a"]);
  });
});

describe("R11: a commit that cannot be written rolls the run back after its on-always cleanups", () => {
  test("the journal's error is the cause; every on-error step is rolled back; the records that take a resource back are fsynced", async () => {
    const journal = new FaultyJournal();
    journal.failTypes("commit");
    const log: string[] = [];
    const fake = fakeAdapter("fake", log, { failRelease: new Set(["b"]) });
    const r = await saga("pod")
      .resource("a", fake, { spec: () => ({ id: "a" }), guard: true })
      .resource("b", fake, { spec: () => ({ id: "b" }) })
      .resource("tmp", fake, { spec: () => ({ id: "tmp" }), on: "always" })
      .run(undefined, { journal });
    const e = r._unsafeUnwrapErr();
    expect(e.cause).toBe(journal.error);
    expect(e.origin).toBe("throw");
    expect(e.cleanupFailures.map((f) => f.label)).toEqual(["b"]);
    expect(e.retained).toEqual([{ label: "a" }]);
    expect(log).toEqual(["acquire a", "acquire b", "acquire tmp", "release tmp", "release-failed b"]);
    // The failed commit may have reached the file all the same: what follows it is fsynced, so a
    // resource it would hand over is taken back durably.
    const after = journal.appends.slice(journal.appends.findIndex((x) => x.record.t === "commit"));
    expect(after.map((x) => [describeRecord(x.record), x.durable])).toEqual([
      ["commit", true],
      ["release-failed:b", true],
      ["retained:a", true],
      ["end", true],
    ]);
    const restarted = MemoryJournal.fromLines(journal.lines());
    const released: string[] = [];
    const report = (await recover(restarted, [fakeAdapter("fake", released)]))._unsafeUnwrap();
    expect(report.released.map((x) => x.step)).toEqual(["b", "a"]);
  });

  test("a failed commit's rollback runs even when the caller's signal is aborted by then", async () => {
    const journal = new FaultyJournal();
    journal.failTypes("commit");
    const log: string[] = [];
    const controller = new AbortController();
    const r = await saga("pod")
      .resource("a", fakeAdapter("fake", log), { spec: () => ({ id: "a" }) })
      .step("post", { run: () => 1, on: "always", compensate: () => controller.abort(new Error("gave up")) })
      .run(undefined, { journal, signal: controller.signal });
    expect(r._unsafeUnwrapErr().cause).toBe(journal.error);
    expect(log).toEqual(["acquire a", "release a"]);
  });
});
