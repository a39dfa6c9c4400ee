// Storage faults through FileJournal's beforeWrite hook (ENOSPC-like): a saga whose intent cannot
// be written acquires nothing and fails with the journal's error; one whose acquisition record or
// commit cannot be written rolls back and releases what it acquired.
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it, test } from "vitest";
import { isJournalWriteError, saga } from "../../src/index.js";
import {
  FileJournal,
  isJournalError,
  recover,
  type JournalError,
  type JournalRecord,
} from "../../src/journal/index.js";
import { fakeAdapter, removeTempDirs, tempDir } from "../support/journal.js";

afterAll(removeTempDirs);

const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function enospc(): Error {
  return Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28 });
}

/** A FileJournal whose writes fail while `fault.on`; counts the failed writes. */
function faulty(label: string, groupCommit = true) {
  const fault = { on: false, failed: 0, error: enospc() };
  const journal = new FileJournal(tempDir(label), {
    groupCommit,
    beforeWrite: () => {
      if (!fault.on) return;
      fault.failed++;
      throw fault.error;
    },
  });
  return { journal, fault };
}

/** "t step" of a record. */
function describeRecord(r: JournalRecord): string {
  return "step" in r ? `${r.t} ${r.step}` : r.t;
}

function expectJournalError(cause: unknown, fault: { error: Error }): void {
  expect(isJournalError(cause), `a JournalError, got ${String(cause)}`).toBe(true);
  const e = cause as JournalError;
  expect(e.code).toBe("io");
  expect(e.cause).toBe(fault.error);
  expect(e.message).toContain("ENOSPC");
}

describe("a failing intent write", () => {
  it("on the first resource: nothing acquired, the saga fails with the journal error", async () => {
    const { journal, fault } = faulty("intent-first");
    fault.on = true;
    const log: string[] = [];
    const r = await saga("s")
      .resource("a", fakeAdapter("fake", log), { spec: () => ({ id: "a" }) })
      .run(undefined, { journal });
    const e = r._unsafeUnwrapErr();
    expectJournalError(e.cause, fault);
    // The journal's error is no step's typed error: a throw, like any failure that is not a step's err.
    expect(e.origin).toBe("throw");
    expect(log).toEqual([]);
    expect(fault.failed).toBeGreaterThan(0);
    fault.on = false;
    await journal.close();
  });

  it("on a later resource: that one is not acquired, the earlier ones are released", async () => {
    const { journal, fault } = faulty("intent-later");
    const log: string[] = [];
    const fake = fakeAdapter("fake", log);
    const r = await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }) })
      .step("arm", {
        run: async () => {
          await macrotask();
          fault.on = true;
        },
      })
      .resource("b", fake, { spec: () => ({ id: "b" }) })
      .run(undefined, { journal });
    expectJournalError(r._unsafeUnwrapErr().cause, fault);
    expect(log).toEqual(["acquire a", "release a"]);
    fault.on = false;
    // The journal still works once there is space again.
    const again = await saga("s2")
      .resource("c", fake, { spec: () => ({ id: "c" }) })
      .run(undefined, { journal });
    expect(again.isOk()).toBe(true);
    await journal.close();
  });
});

describe("a failing acquisition record or commit", () => {
  // The acquired record is a fact: its failure is reported, not a step failure. The fault stays
  // on, so the next promise (c's intent) cannot be written: c is not acquired and the run rolls back.
  it("without group commit, a fault from the acquired record on: reported, and the next intent fails the run, which releases everything", async () => {
    const { journal, fault } = faulty("acquired", false);
    const log: string[] = [];
    const fake = fakeAdapter("fake", log, {
      onAcquire: (plan) => {
        if (plan.id === "b") fault.on = true;
      },
    });
    const r = await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }) })
      .resource("b", fake, { spec: () => ({ id: "b" }) })
      .resource("c", fake, { spec: () => ({ id: "c" }) })
      .run(undefined, { journal });
    const e = r._unsafeUnwrapErr();
    expectJournalError(e.cause, fault);
    expect(log).toEqual(["acquire a", "acquire b", "release b", "release a"]);
    expect(
      e.cleanupFailures.map((f) => `${f.label} ${isJournalWriteError(f.error) ? describeRecord(f.error.record) : ""}`),
      "the facts that could not be written, reported",
    ).toEqual(["journal acquired b", "journal released b", "journal released a", "journal end"]);
    fault.on = false;
    await journal.close();
  });

  it("without group commit, an acquired record lost to a passing fault is reported and the run still succeeds", async () => {
    const { journal, fault } = faulty("acquired-passing", false);
    const log: string[] = [];
    const fake = fakeAdapter("fake", log, {
      onAcquire: (plan) => {
        fault.on = plan.id === "b";
      },
    });
    const r = await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }) })
      .resource("b", fake, { spec: () => ({ id: "b" }) })
      .step("disarm", { run: () => void (fault.on = false) })
      .run(undefined, { journal });
    const value = r._unsafeUnwrap();
    expect(value.held.resources.map((x) => x.step)).toEqual(["a", "b"]);
    expect(value.journalFailures.map((f) => describeRecord(f.record))).toEqual(["acquired b"]);
    expectJournalError(value.journalFailures[0]!.cause, fault);
    expect(log).toEqual(["acquire a", "acquire b"]);
    // The commit hands both over: nothing is left to recover.
    expect((await recover(journal, [fake]))._unsafeUnwrap().transactions).toBe(0);
    await journal.close();
  });

  it("with group commit, a fault from the acquired record on fails the commit: rolled back, all released", async () => {
    const { journal, fault } = faulty("acquired-group");
    const log: string[] = [];
    const fake = fakeAdapter("fake", log, {
      onAcquire: (plan) => {
        if (plan.id === "b") fault.on = true;
      },
    });
    const r = await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }) })
      .resource("b", fake, { spec: () => ({ id: "b" }) })
      .run(undefined, { journal });
    const e = r._unsafeUnwrapErr();
    expectJournalError(e.cause, fault);
    expect(log).toEqual(["acquire a", "acquire b", "release b", "release a"]);
    fault.on = false;
    await journal.close();
  });

  it("a failing commit rolls back and releases everything; the journal then has nothing left to recover", async () => {
    const { journal, fault } = faulty("commit");
    const log: string[] = [];
    const fake = fakeAdapter("fake", log);
    const r = await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }) })
      .resource("b", fake, { spec: () => ({ id: "b" }), guard: true })
      .step("arm", {
        run: async () => {
          await macrotask();
          fault.on = true;
        },
      })
      .run(undefined, { journal });
    const e = r._unsafeUnwrapErr();
    expectJournalError(e.cause, fault);
    expect(e.origin).toBe("throw");
    expect(log).toEqual(["acquire a", "acquire b", "release b", "release a"]);
    await journal.flush();
    fault.on = false;
    // The rollback's `released` records and its end were lost to the same fault, so the journal
    // still names a and b. The run is over: recover releases them again at once, as it would after
    // a restart (releases are idempotent); then nothing is left.
    const again = (await recover(journal, [fake]))._unsafeUnwrap();
    expect(again.released.map((x) => x.step)).toEqual(["b", "a"]);
    expect((await recover(journal, [fake]))._unsafeUnwrap().transactions).toBe(0);
    await journal.close();
  });

  // Was a bug (fixed): FileJournal.append adds a record to the Ledger before it is written. When the commit's
  // write fails, the Ledger already counts the transaction as committed and drops it, so the
  // compaction that follows the failed batch truncates the segment to 0 bytes while the rollback
  // has not released anything yet: a crash during that rollback leaves no record of the acquired
  // resources (and the rollback's `released` records become orphan Ledger entries, so the segment
  // is never compacted again). Repro: FileJournal with beforeWrite throwing from the commit on;
  // in the adapter's release, `await journal.flush()` then read the segment: it is empty.
  test("while a failed commit rolls back, the segment still holds the intents", async () => {
    const { journal, fault } = faulty("commit-compaction");
    const onDiskAtRelease: string[] = [];
    const base = fakeAdapter("fake", []);
    const fake: typeof base = {
      ...base,
      release: async (d, c) => {
        await journal.flush();
        onDiskAtRelease.push(readFileSync(journal.segmentPath, "utf8"));
        return base.release(d, c);
      },
    };
    const r = await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }) })
      .step("arm", {
        run: async () => {
          await macrotask();
          fault.on = true;
        },
      })
      .run(undefined, { journal });
    expectJournalError(r._unsafeUnwrapErr().cause, fault);
    fault.on = false;
    await journal.close();
    expect(onDiskAtRelease).toHaveLength(1);
    expect(
      onDiskAtRelease[0]!
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => (JSON.parse(l) as JournalRecord).t),
    ).toEqual(["begin", "intent", "acquired"]);
  });
});
