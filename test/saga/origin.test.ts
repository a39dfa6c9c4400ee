// Where a failed saga's cause came from, as `transaction` reports it: a step (or an adapter) that
// returns an err is the body's err (origin "err", typed, `isBodyError()`); one that throws or
// rejects is a throw (origin "throw", untyped), and so is anything that is not a step's own err:
// an abort of the caller's signal mid-saga, a journal that cannot take an intent.
import { err, errAsync, ok } from "neverthrow";
import { describe, expect, test } from "vitest";
import { saga, transaction, type ResourceAdapter, type TransactionError } from "../../src/index.js";
import { fakeAdapter, type FakeDesc } from "../support/journal.js";
import { FaultyJournal } from "./faulty-journal.js";

/** What a failed run says of its cause. */
function originOf(e: TransactionError): { origin: string; isBodyError: boolean; bodyError: unknown } {
  return { origin: e.origin, isBodyError: e.isBodyError(), bodyError: e.bodyError };
}

const boom = new Error("boom");

describe("a saga reports the origin of its cause like transaction", () => {
  test.each([
    [
      "throws",
      () => {
        throw boom;
      },
    ],
    ["rejects", () => Promise.reject(boom)],
  ])("a step that %s: origin throw, not a body error, no bodyError (as transaction)", async (_, run) => {
    const log: string[] = [];
    const r = await saga("s")
      .step("a", { run: () => 1, compensate: () => void log.push("undo a") })
      .step("b", { run })
      .run();
    const e = r._unsafeUnwrapErr();
    expect(e.cause).toBe(boom);
    expect(originOf(e)).toEqual({ origin: "throw", isBodyError: false, bodyError: undefined });
    expect(log).toEqual(["undo a"]);
    const t = (await transaction(async () => run()))._unsafeUnwrapErr();
    expect(originOf(t)).toEqual(originOf(e));
  });

  test.each<[string, () => unknown]>([
    ["err", () => err(boom)],
    ["errAsync", () => errAsync(boom)],
  ])("a step that returns %s: origin err, a body error, bodyError set", async (_, run) => {
    const e = (await saga("s").step("b", { run }).run())._unsafeUnwrapErr();
    expect(e.cause).toBe(boom);
    expect(originOf(e)).toEqual({ origin: "err", isBodyError: true, bodyError: boom });
  });

  test("an adapter whose acquire throws: origin throw; one whose acquire returns err: origin err", async () => {
    const base = fakeAdapter("fake", []);
    const throwing: typeof base = {
      ...base,
      acquire: () => {
        throw boom;
      },
    };
    const thrown = (
      await saga("s")
        .resource("r", throwing, { spec: () => ({ id: "r" }) })
        .run()
    )._unsafeUnwrapErr();
    expect(originOf(thrown)).toEqual({ origin: "throw", isBodyError: false, bodyError: undefined });
    const failing = fakeAdapter("fake", [], { failAcquire: new Set(["r"]) });
    const returned = (
      await saga("s")
        .resource("r", failing, { spec: () => ({ id: "r" }) })
        .run()
    )._unsafeUnwrapErr();
    expect(returned.origin).toBe("err");
    expect(returned.isBodyError() && returned.cause.message).toBe("acquire r failed");
  });

  test("a spec, plan or describe that throws: origin throw", async () => {
    const base = fakeAdapter("fake", []);
    const throwingPlan: ResourceAdapter<{ id: string }, FakeDesc, FakeDesc, Error> = {
      ...base,
      plan: () => {
        throw boom;
      },
    };
    const planned = await saga("s")
      .resource("r", throwingPlan, { spec: () => ({ id: "r" }) })
      .run();
    expect(planned._unsafeUnwrapErr().origin).toBe("throw");
    const throwingSpec = await saga("s")
      .resource("r", base, {
        spec: () => {
          throw boom;
        },
      })
      .run();
    expect(throwingSpec._unsafeUnwrapErr().origin).toBe("throw");
    const throwingDescribe = await saga("s")
      .resource(
        "r",
        {
          ...base,
          describe: () => {
            throw boom;
          },
        },
        { spec: () => ({ id: "r" }) },
      )
      .run();
    expect(throwingDescribe._unsafeUnwrapErr().origin).toBe("throw");
  });

  test("an abort of the caller's signal mid-saga: the next step does not run; the cause is the reason, origin throw", async () => {
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const log: string[] = [];
    const r = await saga("s")
      .step("a", {
        run: () => {
          controller.abort(reason);
          return ok(1);
        },
        compensate: () => void log.push("undo a"),
      })
      .step("b", { run: () => void log.push("run b") })
      .run(undefined, { signal: controller.signal });
    const e = r._unsafeUnwrapErr();
    expect(e.cause).toBe(reason);
    expect(originOf(e)).toEqual({ origin: "throw", isBodyError: false, bodyError: undefined });
    expect(log).toEqual(["undo a"]);
  });

  test("a step that rejects with the abort reason it observed: origin throw", async () => {
    const controller = new AbortController();
    const r = await saga("s")
      .step("wait", {
        run: (_, { signal }) =>
          new Promise<never>((_resolve, reject) => {
            signal.addEventListener("abort", () => reject(signal.reason));
            controller.abort(boom);
          }),
      })
      .run(undefined, { signal: controller.signal });
    const e = r._unsafeUnwrapErr();
    expect(e.cause).toBe(boom);
    expect(e.origin).toBe("throw");
    expect(e.isBodyError()).toBe(false);
  });

  test("an intent the journal cannot take: the journal's error, origin throw (it is no step's typed error)", async () => {
    const journal = new FaultyJournal().failTypes("intent");
    const e = (
      await saga("s")
        .resource("r", fakeAdapter("fake", []), { spec: () => ({ id: "r" }) })
        .run(undefined, { journal })
    )._unsafeUnwrapErr();
    expect(e.cause).toBe(journal.error);
    expect(originOf(e)).toEqual({ origin: "throw", isBodyError: false, bodyError: undefined });
  });
});
