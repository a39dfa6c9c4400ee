// releaseHeld adopts what a saga handed over into a journal transaction before releasing anything.
// That adoption is all or nothing: a crash (or a power loss that keeps only the first N records,
// fsynced or not) at any point of it leaves recover releasing every held resource, in reverse
// order, or none (the caller still owns them all and releases them again); never a part of them.
import { describe, expect, test } from "vitest";
import { releaseHeld, saga, type Held } from "../../src/index.js";
import { MemoryJournal, recover, type JournalRecord } from "../../src/journal/index.js";
import { checkRecord, foldTransaction, JOURNAL_FORMAT_VERSION } from "../../src/journal/records.js";
import { fakeAdapter } from "../support/journal.js";
import { describeRecord, FaultyJournal } from "./faulty-journal.js";

/** A saga that handed over a, b and c (a guarded); the lines its journal holds. */
async function handedOver(): Promise<{ held: Held; lines: readonly string[] }> {
  const journal = new MemoryJournal();
  const fake = fakeAdapter("fake", []);
  const r = await saga("pod")
    .resource("a", fake, { spec: () => ({ id: "a" }), guard: true })
    .resource("b", fake, { spec: () => ({ id: "b" }) })
    .resource("c", fake, { spec: () => ({ id: "c" }) })
    .run(undefined, { journal });
  return { held: r._unsafeUnwrap().held, lines: [...journal.lines()] };
}

/** What a recover in a new process releases from `lines`, in order. */
async function recoveredFrom(lines: readonly string[]): Promise<string[]> {
  const log: string[] = [];
  const report = (await recover(MemoryJournal.fromLines(lines), [fakeAdapter("fake", log)]))._unsafeUnwrap();
  expect(report.failed).toEqual([]);
  expect(report.released.map((r) => `release ${r.step}`)).toEqual(log);
  return log;
}

describe("releaseHeld's adoption is all or nothing", () => {
  test("a crash after any prefix of the adoption's records: recover releases all of them in reverse, or none", async () => {
    const { held, lines } = await handedOver();
    // releaseHeld on a journal that already holds the saga's lines; its releases never happen (a
    // process that dies during the adoption has released nothing yet).
    const journal = new FaultyJournal(MemoryJournal.fromLines(lines));
    let releasing = false;
    const adapter = fakeAdapter("fake", []);
    const r = await releaseHeld(
      held,
      [
        {
          ...adapter,
          release: (d, c) => {
            releasing = true;
            return adapter.release(d, c);
          },
        },
      ],
      { journal },
    );
    expect(r.isOk()).toBe(true);
    expect(releasing).toBe(true);
    const adoption = journal.appends.slice(
      0,
      journal.appends.findIndex((x) => x.record.t === "released"),
    );
    // Every prefix: the power loss keeps the first n records of the adoption, fsynced or not.
    const outcomes = new Set<string>();
    for (let n = 0; n <= adoption.length; n++) {
      const kept = adoption.slice(0, n).map((x) => JSON.stringify(x.record));
      const released = await recoveredFrom([...lines, ...kept]);
      const what = `after ${n} of ${adoption.map((x) => describeRecord(x.record)).join(", ")}`;
      expect([[], ["release c", "release b", "release a"]], what).toContainEqual(released);
      outcomes.add(released.length === 0 ? "none" : "all");
    }
    expect([...outcomes]).toEqual(["none", "all"]);
  });

  test("nothing is released before the whole adoption is durable, and it is one record", async () => {
    const { held, lines } = await handedOver();
    const journal = new FaultyJournal(MemoryJournal.fromLines(lines));
    const durableAtFirstRelease: string[] = [];
    const adapter = fakeAdapter("fake", []);
    await releaseHeld(
      held,
      [
        {
          ...adapter,
          release: (d, c) => {
            if (durableAtFirstRelease.length === 0) {
              const lastDurable = journal.appends.findLastIndex((x) => x.durable);
              durableAtFirstRelease.push(
                ...journal.appends.slice(0, lastDurable + 1).map((x) => describeRecord(x.record)),
              );
            }
            return adapter.release(d, c);
          },
        },
      ],
      { journal },
    );
    expect(durableAtFirstRelease).toEqual(["begin", "adopt"]);
    const adopt = journal.appends[1]!.record;
    expect(adopt).toEqual({
      v: 2,
      tx: adopt.tx,
      t: "adopt",
      resources: held.resources.map((r) => ({ step: r.step, kind: r.kind, guard: r.guard, desc: r.description })),
    });
  });

  test("a journal that fails the adoption: nothing released, the caller keeps everything", async () => {
    const { held } = await handedOver();
    const journal = new FaultyJournal().failTypes("adopt");
    const log: string[] = [];
    const e = (await releaseHeld(held, [fakeAdapter("fake", log)], { journal }))._unsafeUnwrapErr();
    expect(e.cause).toBe(journal.error);
    expect(log).toEqual([]);
  });
});

describe("the adopt record", () => {
  const tx = "tx-1";
  const resources = [{ step: "a", kind: "fake", guard: true, desc: { id: "a" } }];

  test("folds into every resource it lists, acquired, in order; later records of a step apply to it", () => {
    const records: JournalRecord[] = [
      { v: 1, tx, t: "begin", name: "release:pod", at: 0 },
      { v: 2, tx, t: "adopt", resources: [...resources, { step: "b", kind: "fake", guard: false, desc: null }] },
      { v: 1, tx, t: "released", step: "b" },
    ];
    const t = foldTransaction(tx, records);
    expect(t.name).toBe("release:pod");
    expect(t.resources).toEqual([
      { step: "a", kind: "fake", guard: true, desc: { id: "a" }, status: "acquired" },
      { step: "b", kind: "fake", guard: false, desc: null, status: "released" },
    ]);
  });

  test("is format version 2, which this errdefer reads (an errdefer that reads only 1 leaves it untouched)", () => {
    expect(JOURNAL_FORMAT_VERSION).toBe(2);
    expect(checkRecord({ v: 2, tx, t: "adopt", resources })).toEqual({ record: { v: 2, tx, t: "adopt", resources } });
  });

  test.each([
    [{ v: 2, tx, t: "adopt" }, /adopt: field resources must be an array/],
    [{ v: 2, tx, t: "adopt", resources: [{ ...resources[0], step: "" }] }, /adopt: resources\[0\]\.step/],
    [{ v: 2, tx, t: "adopt", resources: [{ ...resources[0], kind: 1 }] }, /adopt: resources\[0\]\.kind/],
    [{ v: 2, tx, t: "adopt", resources: [{ ...resources[0], guard: "no" }] }, /adopt: resources\[0\]\.guard/],
    [{ v: 2, tx, t: "adopt", resources: [{ step: "a", kind: "fake", guard: true }] }, /adopt: resources\[0\]\.desc/],
    [{ v: 2, tx, t: "adopt", resources: [null] }, /adopt: resources\[0\] must be an object/],
  ])("a malformed adopt record is refused: %j", (value, problem) => {
    const checked = checkRecord(value);
    expect("problem" in checked && checked.problem).toMatch(problem);
  });

  test("an adoption written by an earlier errdefer (begin, then one intent per resource) is still recovered", async () => {
    const { held, lines } = await handedOver();
    const old = [
      JSON.stringify({ v: 1, tx: "old", t: "begin", name: "release:pod", at: 0 }),
      ...held.resources.map((r) =>
        JSON.stringify({
          v: 1,
          tx: "old",
          t: "intent",
          step: r.step,
          kind: r.kind,
          guard: r.guard,
          desc: r.description,
        }),
      ),
      JSON.stringify({ v: 1, tx: "old", t: "released", step: "c" }),
    ];
    expect(await recoveredFrom([...lines, ...old])).toEqual(["release b", "release a"]);
  });
});
