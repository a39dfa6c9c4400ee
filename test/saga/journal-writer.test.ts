// The journal writer, row by row of its table: which records are fsynced, and what a failed write
// of each means (a promise rejects with the journal's error; a fact is kept in `failures`).
import { err, ok } from "neverthrow";
import { describe, expect, test } from "vitest";
import { TransactionError } from "../../src/index.js";
import type { JournalRecord } from "../../src/journal/index.js";
import {
  isJournalWriteError,
  JOURNAL_FAILURE_LABEL,
  JournalWriter,
  JournalWriteError,
} from "../../src/saga/journal-writer.js";
import { FaultyJournal } from "./faulty-journal.js";

const tx = "tx-1";
const a = { step: "a", kind: "fake", guard: true, description: { id: "a" } };
const b = { step: "b", kind: "fake", guard: false, description: { id: "b" } };

function setup(): { journal: FaultyJournal; writer: JournalWriter } {
  const journal = new FaultyJournal();
  return { journal, writer: new JournalWriter(journal, tx) };
}

/** A promise: written with `durable`; when its append fails, it rejects with the journal's error and keeps nothing. */
async function expectPromise(write: (w: JournalWriter) => Promise<void>, record: JournalRecord, durable: boolean) {
  const { journal, writer } = setup();
  await write(writer);
  expect(journal.appends).toEqual([{ record, durable }]);
  journal.failTypes(record.t);
  await expect(write(writer)).rejects.toBe(journal.error);
  expect(writer.failures).toEqual([]);
}

/** A fact: written with `durable`; when its append fails, it resolves and keeps a JournalWriteError. */
async function expectFact(write: (w: JournalWriter) => Promise<void>, record: JournalRecord, durable: boolean) {
  const { journal, writer } = setup();
  await write(writer);
  expect(journal.appends).toEqual([{ record, durable }]);
  journal.failTypes(record.t);
  await expect(write(writer)).resolves.toBeUndefined();
  expect(writer.failures).toHaveLength(1);
  const failure = writer.failures[0]!;
  expect(isJournalWriteError(failure)).toBe(true);
  expect(failure.record).toEqual(record);
  expect(failure.cause).toBe(journal.error);
}

describe("JournalWriter: one test per row of its table", () => {
  test("begin: a promise, not fsynced (it rides on the first intent's fsync)", async () => {
    const begin = { v: 1, tx, t: "begin", name: "pod", at: expect.any(Number) as number } as const;
    await expectPromise((w) => w.begin("pod"), begin, false);
  });

  test("intent (saga): a promise, fsynced before the acquisition", async () => {
    const intent = { v: 1, tx, t: "intent", step: "a", kind: "fake", guard: true, desc: { id: "a" } } as const;
    await expectPromise((w) => w.intent(a), intent, true);
  });

  test("adopt (releaseHeld): begin, then one record naming every resource, fsynced (format version 2); a failure stops there", async () => {
    const { journal, writer } = setup();
    await writer.adopt("release:pod", [a, b]);
    expect(journal.appends.map((x) => [x.record.t, x.record.v, x.durable])).toEqual([
      ["begin", 1, false],
      ["adopt", 2, true],
    ]);
    expect(journal.appends[1]!.record).toEqual({
      v: 2,
      tx,
      t: "adopt",
      resources: [
        { step: "a", kind: "fake", guard: true, desc: { id: "a" } },
        { step: "b", kind: "fake", guard: false, desc: { id: "b" } },
      ],
    });
    const failing = setup();
    failing.journal.failTypes("adopt");
    await expect(failing.writer.adopt("release:pod", [a, b])).rejects.toBe(failing.journal.error);
    expect(failing.journal.appends.map((x) => x.record.t)).toEqual(["begin", "adopt"]);
    expect(failing.writer.failures).toEqual([]);
    // With nothing to adopt: the begin alone, not fsynced.
    const none = setup();
    await none.writer.adopt("release:pod", []);
    expect(none.journal.appends.map((x) => [x.record.t, x.durable])).toEqual([["begin", false]]);
  });

  test("acquired: a fact, not fsynced (the intent already names what may exist)", async () => {
    const acquired = { v: 1, tx, t: "acquired", step: "a", desc: { id: "a", acquired: true } } as const;
    await expectFact((w) => w.acquired("a", { id: "a", acquired: true }), acquired, false);
  });

  test("released: a fact, not fsynced (losing it means releasing again)", async () => {
    await expectFact((w) => w.released("a"), { v: 1, tx, t: "released", step: "a" }, false);
  });

  test("release-failed: a fact, fsynced only after a commit; the error is described as a string", async () => {
    const record = { v: 1, tx, t: "release-failed", step: "a", error: "busy" } as const;
    await expectFact((w) => w.releaseFailed("a", new Error("busy")), record, false);
    const { journal, writer } = setup();
    await writer.commit(["a"]);
    await writer.releaseFailed("a", { code: 16 });
    expect(journal.appends.at(-1)).toEqual({ record: { ...record, error: '{"code":16}' }, durable: true });
  });

  test("retained: a fact, fsynced only after a commit (even one whose write failed)", async () => {
    await expectFact((w) => w.retained("a"), { v: 1, tx, t: "retained", step: "a" }, false);
    const { journal, writer } = setup();
    journal.failTypes("commit");
    await expect(writer.commit(["a"])).rejects.toBe(journal.error);
    journal.failTypes();
    await writer.retained("a");
    expect(journal.appends.at(-1)).toEqual({ record: { v: 1, tx, t: "retained", step: "a" }, durable: true });
  });

  test("commit (saga): a promise, fsynced before the resources pass to the caller", async () => {
    await expectPromise((w) => w.commit(["a", "b"]), { v: 1, tx, t: "commit", held: ["a", "b"] }, true);
  });

  test("commit (recover, to an owner): a fact, fsynced, without a held list", async () => {
    await expectFact((w) => w.commitToOwner(), { v: 1, tx, t: "commit" }, true);
  });

  test("end: a fact, fsynced after a failed run only", async () => {
    await expectFact((w) => w.end(true), { v: 1, tx, t: "end" }, true);
    await expectFact((w) => w.end(false), { v: 1, tx, t: "end" }, false);
  });
});

describe("JournalWriter: reporting", () => {
  test("unwound: the retained ones in order, then the end; failures kept in the order they happened", async () => {
    const { journal, writer } = setup();
    journal.failTypes("retained", "end");
    await writer.unwound([{ label: "b" }, { label: "a" }], true);
    expect(journal.appends.map((x) => [x.record.t, x.durable])).toEqual([
      ["retained", false],
      ["retained", false],
      ["end", true],
    ]);
    expect(writer.failures.map((f) => ("step" in f.record ? `${f.record.t}:${f.record.step}` : f.record.t))).toEqual([
      "retained:b",
      "retained:a",
      "end",
    ]);
  });

  test("finish: an Ok stays Ok; an Err gains the failures as cleanup failures labelled journal, after its own", async () => {
    const { journal, writer } = setup();
    journal.failTypes("end");
    const value = { journalFailures: writer.failures };
    const okOutcome = await writer.finish(ok(value));
    expect(okOutcome._unsafeUnwrap()).toBe(value);
    expect(value.journalFailures.map((f) => f.record.t)).toEqual(["end"]);

    const failed = setup();
    failed.journal.failTypes("retained", "end");
    const cause = new Error("step failed");
    const own = { label: "b", error: new Error("release b failed") };
    const e = new TransactionError<Error>({
      cause,
      origin: "err",
      bodyError: cause,
      cleanupFailures: [own],
      retained: [{ label: "a" }],
    });
    const out = (await failed.writer.finish(err(e)))._unsafeUnwrapErr();
    expect(out.cause).toBe(cause);
    expect(out.origin).toBe("err");
    expect(out.bodyError).toBe(cause);
    expect(out.retained).toEqual([{ label: "a" }]);
    expect(out.cleanupFailures[0]).toBe(own);
    expect(out.cleanupFailures.slice(1).map((f) => [f.label, (f.error as JournalWriteError).record.t])).toEqual([
      [JOURNAL_FAILURE_LABEL, "retained"],
      [JOURNAL_FAILURE_LABEL, "end"],
    ]);
    expect(out.message).toContain('cleanup "journal" failed: could not journal the "retained" record of step "a"');
  });

  test("finish: an Err without failed writes is returned as it is", async () => {
    const { writer } = setup();
    const e = new TransactionError({ cause: new Error("x"), origin: "throw" });
    expect((await writer.finish(err(e)))._unsafeUnwrapErr()).toBe(e);
  });

  test("without a journal: nothing is written and nothing fails", async () => {
    const writer = new JournalWriter(undefined, tx);
    await writer.begin("pod");
    await writer.intent(a);
    await writer.acquired("a", null);
    await writer.commit(["a"]);
    await writer.unwound([{ label: "a" }], true);
    expect(writer.failures).toEqual([]);
    expect(writer.tx).toBe(tx);
  });

  test("JournalWriteError: a branded error naming the record, its step and its cause", () => {
    const cause = new Error("EIO");
    const e = new JournalWriteError({ v: 1, tx, t: "released", step: "a" }, cause);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("JournalWriteError");
    expect(e.code).toBe("journal-write-failed");
    expect(e.cause).toBe(cause);
    expect(e.message).toBe(`could not journal the "released" record of step "a" of transaction ${tx}: EIO`);
    expect(isJournalWriteError(e)).toBe(true);
    expect(isJournalWriteError(cause)).toBe(false);
    expect(new JournalWriteError({ v: 1, tx, t: "end" }, "disk gone").message).toBe(
      `could not journal the "end" record of transaction ${tx}: disk gone`,
    );
  });
});
