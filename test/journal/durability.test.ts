// What FileJournal acknowledges is on disk, whole, and what it could not write is never dropped:
// short writes (through the beforeWrite hook: a short count, then a failure or the rest), a lazy
// record whose write failed (the next durable append and flush hear of it), a transaction live from
// its begin whatever its records' fate, a lost `end` (the transaction is recovered in process and
// the segment goes at close), and closed or second journals of one live process.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { ok } from "neverthrow";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { saga } from "../../src/index.js";
import {
  FileJournal,
  isJournalError,
  recover,
  type Journal,
  type JournalError,
  type JournalRecord,
} from "../../src/journal/index.js";
import { fakeAdapter, removeTempDirs, tempDir } from "../support/journal.js";

afterAll(removeTempDirs);

const opened: FileJournal[] = [];
afterEach(async () => {
  for (const j of opened.splice(0)) await j.close().catch(() => undefined);
});

function enospc(): Error {
  return Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28 });
}

/**
 * A FileJournal whose writes go through `fault.next`: return a number to let only that many bytes
 * through (a short write), throw to fail the write, return undefined to write normally.
 */
function faulty(label: string, groupCommit = true) {
  const fault: { next: (bytes: number, target?: string) => number | undefined; calls: number[] } = {
    next: () => undefined,
    calls: [],
  };
  const dir = tempDir(label);
  const journal = new FileJournal(dir, {
    groupCommit,
    beforeWrite: (bytes: number, target?: string) => {
      fault.calls.push(bytes);
      return fault.next(bytes, target);
    },
  });
  opened.push(journal);
  return { journal, fault, dir };
}

/** Fails the next `n` writes with `error`, then writes normally. */
function failNext(fault: { next: (bytes: number) => number | undefined }, n: number, error = enospc()): Error {
  let left = n;
  fault.next = () => {
    if (left <= 0) return undefined;
    left--;
    throw error;
  };
  return error;
}

const begin = (tx: string): JournalRecord => ({ v: 1, tx, t: "begin", name: "s", at: 0 });
const intent = (tx: string, step: string): JournalRecord => ({
  v: 1,
  tx,
  t: "intent",
  step,
  kind: "fake",
  guard: false,
  desc: { id: step, acquired: false },
});
/** The files in `dir` (the recovery lock file aside). */
const filesIn = (dir: string): string[] => readdirSync(dir).filter((n) => n !== "recover.lock");
const describeRecord = (r: JournalRecord): string => ("step" in r ? `${r.t} ${r.step}` : r.t);
const recordsIn = (file: string): JournalRecord[] =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as JournalRecord)
    : [];
const settle = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function expectIo(e: unknown, cause: Error): void {
  expect(isJournalError(e), `a JournalError, got ${String(e)}`).toBe(true);
  expect((e as JournalError).code).toBe("io");
  expect((e as JournalError).cause).toBe(cause);
}

describe("short writes (item 2)", () => {
  it("a write cut short and then failing is refused and cut back off: the next record starts on a clean line", async () => {
    const { journal, fault } = faulty("short-fail");
    await journal.append(begin("t"), true);
    const size = statSync(journal.segmentPath).size;
    const error = enospc();
    let call = 0;
    fault.next = () => {
      call++;
      if (call === 1) return 7;
      throw error;
    };
    const e = await settle(journal.append(intent("t", "a"), true));
    expectIo(e, error);
    expect(statSync(journal.segmentPath).size, "the 7 bytes are cut back off").toBe(size);
    fault.next = () => undefined;
    await journal.append(intent("t", "b"), true);
    expect(recordsIn(journal.segmentPath).map(describeRecord)).toEqual(["begin", "intent b"]);
  });

  it("a write cut short is continued: the record is written whole", async () => {
    const { journal, fault } = faulty("short-continued");
    let call = 0;
    fault.next = (bytes) => (++call === 1 ? Math.floor(bytes / 2) : undefined);
    await journal.append(begin("t"), true);
    await journal.append(intent("t", "a"), true);
    expect(recordsIn(journal.segmentPath).map(describeRecord)).toEqual(["begin", "intent a"]);
    expect(fault.calls.length, "the rest of the first write was asked for again").toBe(3);
  });

  it("a write making no progress is an error, not an endless loop", async () => {
    const { journal, fault } = faulty("no-progress");
    fault.next = () => 0;
    const e = await settle(journal.append(begin("t"), true));
    expect(isJournalError(e) && e.code).toBe("io");
    expect(String(e)).toMatch(/short write/);
    fault.next = () => undefined;
    await journal.append(begin("u"), true);
    expect(recordsIn(journal.segmentPath).map((r) => r.tx)).toEqual(["u"]);
  });
});

describe("a lazy record whose write failed (item 5)", () => {
  it("fails the next durable append, which is not written; the one after is fine", async () => {
    const { journal, fault } = faulty("lazy-then-durable");
    await journal.append(begin("t"), true);
    const error = failNext(fault, 1);
    await journal.append({ v: 1, tx: "t", t: "released", step: "x" }, false);
    await macrotask(); // its batch fails before the next append
    const e = await settle(journal.append(intent("t", "a"), true));
    expectIo(e, error);
    expect((e as Error).message).toMatch(/earlier record/);
    await journal.append(intent("t", "b"), true);
    expect(recordsIn(journal.segmentPath).map(describeRecord)).toEqual(["begin", "intent b"]);
  });

  it("fails the next flush, once", async () => {
    const { journal, fault } = faulty("lazy-then-flush");
    await journal.append(begin("t"), true);
    const error = failNext(fault, 1);
    await journal.append({ v: 1, tx: "t", t: "end" }, false);
    expectIo(await settle(journal.flush()), error);
    await expect(journal.flush()).resolves.toBeUndefined();
  });

  it("a saga whose begin could not be written fails at its first intent and acquires nothing", async () => {
    const { journal, fault } = faulty("lost-begin-saga");
    const error = failNext(fault, 1);
    const log: string[] = [];
    const r = await saga("s")
      .resource("a", fakeAdapter("fake", log), { spec: () => ({ id: "a" }) })
      .run(undefined, { journal });
    expectIo(r._unsafeUnwrapErr().cause, error);
    expect(log).toEqual([]);
  });
});

describe("a transaction is live from its begin, whatever its records' fate (item 5)", () => {
  it("a saga whose begin was lost is not recovered while it runs", async () => {
    const { journal, fault } = faulty("lost-begin-live");
    const log: string[] = [];
    const adapter = fakeAdapter("fake", log);
    const gates = { first: deferred(), second: deferred() };
    const reached = deferred();
    failNext(fault, 1);
    const running = saga("live")
      .step("wait", { run: () => gates.first.promise.then(() => ok(1)) })
      .resource("a", adapter, { spec: () => ({ id: "live-a" }) })
      .step("hold", {
        run: () => {
          reached.resolve();
          return gates.second.promise.then(() => ok(2));
        },
      })
      .run(undefined, { journal });
    // The begin's write fails; someone hears of it (here: a flush), and the saga goes on.
    await macrotask();
    await settle(journal.flush());
    gates.first.resolve();
    await reached.promise;
    const report = (await recover(journal, [adapter]))._unsafeUnwrap();
    expect(report.transactions, "the running saga is not abandoned").toBe(0);
    expect(log).toEqual(["acquire live-a"]);
    gates.second.resolve();
    expect((await running).isOk()).toBe(true);
    expect(log).toEqual(["acquire live-a"]);
  });
});

/** A journal that arms `fault` when a record of type `t` is appended, and disarms it after. */
function failingRecords(file: FileJournal, fault: { next: (bytes: number) => number | undefined }, t: string): Journal {
  return {
    append: async (record, durable) => {
      if (record.t !== t) return file.append(record, durable);
      failNext(fault, 1);
      try {
        await file.append(record, durable);
      } finally {
        fault.next = () => undefined;
      }
    },
    openRecovery: () => file.openRecovery(),
    close: () => file.close(),
  };
}

describe("a lost end (item 6)", () => {
  it("after a failed run: what the run left is recovered in process", async () => {
    const { journal, fault } = faulty("lost-end-failed");
    const failing = new Set(["b"]);
    const log: string[] = [];
    const adapter = fakeAdapter("fake", log, { failRelease: failing });
    const r = await saga("s")
      .resource("a", adapter, { spec: () => ({ id: "a" }), guard: true })
      .resource("b", adapter, { spec: () => ({ id: "b" }) })
      .step("fail", { run: () => Promise.reject(new Error("fail")) })
      .run(undefined, { journal: failingRecords(journal, fault, "end") });
    expect(r._unsafeUnwrapErr().retained).toEqual([{ label: "a" }]);
    failing.clear();
    const report = (await recover(journal, [adapter]))._unsafeUnwrap();
    expect(report.released.map((x) => x.step)).toEqual(["b", "a"]);
    await journal.close();
    expect(existsSync(journal.segmentPath), "nothing left: the segment goes").toBe(false);
  });

  it("after a successful run: the segment goes at close", async () => {
    const { journal, fault, dir } = faulty("lost-end-ok");
    const r = await saga("s")
      .resource("a", fakeAdapter("fake", []), { spec: () => ({ id: "a" }) })
      .run(undefined, { journal: failingRecords(journal, fault, "end") });
    expect(r.isOk()).toBe(true);
    await settle(journal.flush());
    await settle(journal.close());
    expect(filesIn(dir)).toEqual([]);
  });
});

describe("journals of this process that are closed, or another one (item 6)", () => {
  /** Runs a saga on `journal` that fails and retains `a` (b's release fails). */
  async function leaveRetained(journal: Journal, log: string[], failing: Set<string>) {
    const adapter = fakeAdapter("fake", log, { failRelease: failing });
    const r = await saga("s")
      .resource("a", adapter, { spec: () => ({ id: "a" }), guard: true })
      .resource("b", adapter, { spec: () => ({ id: "b" }) })
      .step("fail", { run: () => Promise.reject(new Error("fail")) })
      .run(undefined, { journal });
    expect(r._unsafeUnwrapErr().retained).toEqual([{ label: "a" }]);
    failing.clear();
    return adapter;
  }

  it("what a closed journal kept is recovered through another one, and its segment goes", async () => {
    const dir = tempDir("closed-here");
    const first = new FileJournal(dir);
    const log: string[] = [];
    const adapter = await leaveRetained(first, log, new Set(["b"]));
    await first.close();
    expect(existsSync(first.segmentPath), "kept at close: something to recover").toBe(true);
    const second = new FileJournal(dir);
    opened.push(second);
    const report = (await recover(second, [adapter]))._unsafeUnwrap();
    expect(report.released.map((x) => x.step)).toEqual(["b", "a"]);
    expect(existsSync(first.segmentPath)).toBe(false);
    await second.close();
    expect(filesIn(dir)).toEqual([]);
  });

  it("what an open journal abandoned is recovered through a second one, once", async () => {
    const dir = tempDir("second-here");
    const first = new FileJournal(dir);
    opened.push(first);
    const log: string[] = [];
    const adapter = await leaveRetained(first, log, new Set(["b"]));
    const second = new FileJournal(dir);
    opened.push(second);
    const report = (await recover(second, [adapter]))._unsafeUnwrap();
    expect(report.released.map((x) => x.step)).toEqual(["b", "a"]);
    expect((await recover(first, [adapter]))._unsafeUnwrap().transactions, "not twice").toBe(0);
    await first.flush();
    expect(recordsIn(first.segmentPath), "the first journal no longer keeps them").toEqual([]);
    expect(log.filter((l) => l.startsWith("release "))).toEqual(["release b", "release a"]);
    await first.close();
    await second.close();
    expect(filesIn(dir)).toEqual([]);
  });

  it("a closed journal's running saga is not recovered through another one", async () => {
    const dir = tempDir("closed-running");
    const first = new FileJournal(dir);
    const log: string[] = [];
    const adapter = fakeAdapter("fake", log);
    const gate = deferred();
    const reached = deferred();
    const running = saga("live")
      .resource("a", adapter, { spec: () => ({ id: "live-a" }) })
      .step("hold", {
        run: () => {
          reached.resolve();
          return gate.promise.then(() => ok(1));
        },
      })
      .run(undefined, { journal: first });
    await reached.promise;
    await first.close();
    const second = new FileJournal(dir);
    opened.push(second);
    expect((await recover(second, [adapter]))._unsafeUnwrap().transactions).toBe(0);
    expect(log).toEqual(["acquire live-a"]);
    gate.resolve();
    await running;
  });
});
