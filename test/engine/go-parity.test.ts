// Go parity of the named return (issue 15, items 14-15): a cleanup clears retErr (Go's
// `retErr = nil`), never with a nullish setRetErr; the body notes a cleanup failure it observed
// (containerd's `cleanupErr = ...` in RunPodSandbox's body).
import { err, ok, type Result } from "neverthrow";
import { describe, expect, it } from "vitest";
import {
  TransactionClosedError,
  isTransactionError,
  transaction,
  type CleanupContext,
  type TransactionError,
  type TransactionEvent,
} from "../../src/index.js";

function errorOf<T>(r: Result<T, TransactionError>): TransactionError {
  if (r.isOk()) throw new Error(`expected an err, got ok(${String(r.value)})`);
  expect(isTransactionError(r.error)).toBe(true);
  return r.error;
}

interface Seen {
  readonly label: string;
  readonly failed: boolean;
  readonly retErr: unknown;
  readonly failures: readonly string[];
}

/** A cleanup that records what it saw at its turn, then runs `then`. */
function seeing(seen: Seen[], then?: (ctx: CleanupContext) => void) {
  return (ctx: CleanupContext): void => {
    seen.push({
      label: ctx.label,
      failed: ctx.failed,
      retErr: ctx.retErr,
      failures: ctx.cleanupFailures.map((f) => f.label),
    });
    then?.(ctx);
  };
}

describe("ctx.clearRetErr (Go: retErr = nil in a defer)", () => {
  it("swallows the body's expected error: later turns see it unset, the Result is Ok(undefined)", async () => {
    const notFound = new Error("not found");
    const seen: Seen[] = [];
    const r = await transaction((tx) => {
      tx.errdefer(seeing(seen), { label: "rollback" });
      tx.defer(seeing(seen), { label: "success-only", on: "success" });
      tx.defer(seeing(seen), { label: "log" });
      tx.defer(
        seeing(seen, (ctx) => {
          if (ctx.retErr === notFound) ctx.clearRetErr();
        }),
        { label: "swallow" },
      );
      return err(notFound);
    });
    // Go: the deferred functions all run; their `if retErr != nil` checks see nil.
    expect(seen).toEqual([
      { label: "swallow", failed: true, retErr: notFound, failures: [] },
      { label: "log", failed: false, retErr: undefined, failures: [] },
      { label: "success-only", failed: false, retErr: undefined, failures: [] },
    ]);
    expect(r.isOk()).toBe(true);
    // The body returned no value: Go's zero value.
    expect(r.isOk() && r.value).toBeUndefined();
  });

  it("clears an error a cleanup set; the body's value is kept", async () => {
    const value = { id: 7 };
    const r = await transaction((tx) => {
      tx.defer(({ clearRetErr }) => clearRetErr(), { label: "clear" });
      tx.defer((ctx) => ctx.setRetErr(new Error("flush failed")), { label: "set" });
      return ok(value);
    });
    expect(r.isOk() && r.value).toBe(value);
  });

  it("is a no-op when retErr is unset", async () => {
    const r = await transaction((tx) => {
      tx.defer((ctx) => ctx.clearRetErr());
      return ok(1);
    });
    expect(r.isOk() && r.value).toBe(1);
  });

  it("a failure after the clear sets retErr again (R4)", async () => {
    const f = new Error("f");
    const r = await transaction((tx) => {
      tx.defer(
        () => {
          throw f;
        },
        { label: "late-fail" },
      );
      tx.defer((ctx) => ctx.clearRetErr(), { label: "clear" });
      return err("expected");
    });
    const e = errorOf(r);
    expect(e.cause).toBe(f);
    expect(e.origin).toBe("cleanup");
    expect(e.bodyError).toBe("expected");
    expect(e.cleanupFailures).toEqual([{ label: "late-fail", error: f }]);
  });

  it("is refused once a cleanup has failed: the refusal is that cleanup's failure, every failure is reported", async () => {
    const e0 = new Error("body");
    const f = new Error("f");
    const seen: Seen[] = [];
    const r = await transaction((tx) => {
      tx.errdefer(seeing(seen), { label: "rollback" });
      tx.errdefer(seeing(seen), { label: "guarded", guard: true });
      tx.defer((ctx) => ctx.clearRetErr(), { label: "clear" });
      tx.defer(
        () => {
          throw f;
        },
        { label: "fails" },
      );
      return err(e0);
    });
    const e = errorOf(r);
    expect(e.cause).toBe(e0);
    expect(e.cleanupFailures.map((x) => x.label)).toEqual(["fails", "clear"]);
    const refusal = e.cleanupFailures[1]!.error;
    expect(refusal).toBeInstanceOf(TypeError);
    expect((refusal as Error).message).toMatch(/clearRetErr.*cleanup "fails" failed: f/);
    expect(e.retained).toEqual([{ label: "guarded" }]);
    expect(seen.map((s) => [s.label, s.failed])).toEqual([["rollback", true]]);
  });

  it("on the success path, a refused clear leaves the failure it refused as the cause", async () => {
    const f = new Error("f");
    const r = await transaction((tx) => {
      tx.defer((ctx) => ctx.clearRetErr(), { label: "clear" });
      tx.defer(
        () => {
          throw f;
        },
        { label: "fails" },
      );
      return ok(1);
    });
    const e = errorOf(r);
    expect(e.cause).toBe(f);
    expect(e.cleanupFailures.map((x) => x.label)).toEqual(["fails", "clear"]);
  });

  it("publishes transaction:finished with ok: true after a clear", async () => {
    const events: TransactionEvent[] = [];
    await transaction(
      (tx) => {
        tx.defer((ctx) => ctx.clearRetErr());
        return err("e");
      },
      { onEvent: (ev) => events.push(ev) },
    );
    const finished = events.find((ev) => ev.type === "transaction:finished");
    expect(finished?.type === "transaction:finished" && finished.ok).toBe(true);
  });
});

describe("ctx.setRetErr(undefined | null) is refused: no Err ever has a nullish cause", () => {
  for (const nil of [undefined, null]) {
    it(`on the success path, setRetErr(${String(nil)}) fails the cleanup with a TypeError`, async () => {
      const r = await transaction((tx) => {
        tx.defer((ctx) => ctx.setRetErr(nil as never), { label: "go-nil" });
        return ok(1);
      });
      const e = errorOf(r);
      expect(e.cause).toBeInstanceOf(TypeError);
      expect((e.cause as Error).message).toMatch(/ctx\.setRetErr.*clearRetErr/);
      expect(e.origin).toBe("cleanup");
      expect(e.cleanupFailures).toEqual([{ label: "go-nil", error: e.cause }]);
    });

    it(`on the failing path, setRetErr(${String(nil)}) leaves the body's cause and is recorded`, async () => {
      const body = new Error("body");
      const r = await transaction((tx) => {
        tx.defer((ctx) => ctx.setRetErr(nil as never), { label: "go-nil" });
        return err(body);
      });
      const e = errorOf(r);
      expect(e.cause).toBe(body);
      expect(e.cleanupFailures[0]!.error).toBeInstanceOf(TypeError);
    });
  }
});

describe("tx.noteCleanupFailure (containerd: cleanupErr set in the body)", () => {
  it("guarded cleanups are retained, others see it; it is reported first; the body's error stays the cause", async () => {
    const startFailed = new Error("start sandbox failed");
    const cleanupFailed = new Error("undo of a half-started sandbox failed");
    const seen: Seen[] = [];
    const r = await transaction((tx) => {
      tx.errdefer(seeing(seen), { label: "remove-netns", guard: true });
      tx.errdefer(seeing(seen), { label: "teardown" });
      tx.noteCleanupFailure(cleanupFailed, "start-sandbox");
      return err(startFailed);
    });
    expect(seen).toEqual([{ label: "teardown", failed: true, retErr: startFailed, failures: ["start-sandbox"] }]);
    const e = errorOf(r);
    expect(e.cause).toBe(startFailed);
    expect(e.origin).toBe("err");
    expect(e.cleanupFailures).toEqual([{ label: "start-sandbox", error: cleanupFailed }]);
    expect(e.retained).toEqual([{ label: "remove-netns" }]);
    expect(e.message).toBe(
      'start sandbox failed; cleanup "start-sandbox" failed: undo of a half-started sandbox failed; cleanup "remove-netns" retained',
    );
  });

  it("when the body succeeds, the noted failure is retErr (R4): errdefers run, the Result is Err", async () => {
    const f = new Error("f");
    const seen: Seen[] = [];
    const r = await transaction((tx) => {
      tx.errdefer(seeing(seen), { label: "rollback" });
      tx.noteCleanupFailure(f);
      tx.noteCleanupFailure("second", "other");
      return ok(1);
    });
    expect(seen).toEqual([{ label: "rollback", failed: true, retErr: f, failures: ["body", "other"] }]);
    const e = errorOf(r);
    expect(e.cause).toBe(f);
    expect(e.origin).toBe("cleanup");
    expect(e.cleanupFailures).toEqual([
      { label: "body", error: f },
      { label: "other", error: "second" },
    ]);
  });

  it("makes a later clearRetErr refused", async () => {
    const r = await transaction((tx) => {
      tx.defer((ctx) => ctx.clearRetErr(), { label: "clear" });
      tx.noteCleanupFailure(new Error("f"), "noted");
      return err("e");
    });
    const e = errorOf(r);
    expect(e.cause).toBe("e");
    expect(e.cleanupFailures.map((x) => x.label)).toEqual(["noted", "clear"]);
  });

  it("publishes cleanup:failed when noted", async () => {
    const events: TransactionEvent[] = [];
    const f = new Error("f");
    await transaction(
      (tx) => {
        tx.noteCleanupFailure(f, "noted");
        return ok(1);
      },
      { onEvent: (ev) => events.push(ev) },
    );
    const failed = events.filter((ev) => ev.type === "cleanup:failed");
    expect(failed).toEqual([expect.objectContaining({ type: "cleanup:failed", label: "noted", error: f })]);
  });

  it("refuses a nullish error and a label that is not a string (a TypeError, nothing noted)", async () => {
    for (const bad of [undefined, null]) {
      let thrown: unknown;
      const r = await transaction((tx) => {
        try {
          tx.noteCleanupFailure(bad as never);
        } catch (e) {
          thrown = e;
        }
        return ok(1);
      });
      expect(thrown).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toMatch(/tx\.noteCleanupFailure: the error must not be/);
      expect(r.isOk()).toBe(true);
    }
    let thrown: unknown;
    await transaction((tx) => {
      try {
        tx.noteCleanupFailure(new Error("f"), 42 as never);
      } catch (e) {
        thrown = e;
      }
      return ok(1);
    });
    expect((thrown as Error).message).toMatch(/label must be a string/);
  });

  it("after the body ended, throws TransactionClosedError (R9)", async () => {
    let thrown: unknown;
    const r = await transaction((tx) => {
      tx.defer(() => {
        try {
          tx.noteCleanupFailure(new Error("f"), "too-late");
        } catch (e) {
          thrown = e;
        }
      });
      return ok(1);
    });
    expect(thrown).toBeInstanceOf(TransactionClosedError);
    expect((thrown as Error).message).toContain('"too-late"');
    expect(r.isOk()).toBe(true);
  });
});
