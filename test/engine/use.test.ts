// tx.use(resource, opts?): registers the resource's [Symbol.asyncDispose] (or [Symbol.dispose]) as
// a cleanup, like AsyncDisposableStack.prototype.use, under the same rules as any other cleanup.
import { err, ok } from "neverthrow";
import { describe, expect, it } from "vitest";
import { CleanupTimeoutError, transaction, type TransactionError } from "../../src/index.js";

function errorOf<T>(r: { isErr(): boolean; error?: unknown; value?: T }): TransactionError {
  if (!r.isErr()) throw new Error("expected an err");
  return r.error as TransactionError;
}

/** A resource disposed asynchronously, logging as it goes. */
class Conn implements AsyncDisposable {
  constructor(
    readonly name: string,
    readonly log: string[],
    readonly fail = false,
  ) {}
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.resolve();
    this.log.push(`dispose ${this.name}`);
    if (this.fail) throw new Error(`${this.name}: close failed`);
  }
}

describe("tx.use", () => {
  it("returns the resource and disposes it at the end, in reverse order with the other cleanups (R1)", async () => {
    const log: string[] = [];
    const r = await transaction((tx) => {
      const a = tx.use(new Conn("a", log));
      tx.defer(() => void log.push("defer"));
      const b = tx.use({ [Symbol.dispose]: () => void log.push("dispose b (sync)") });
      expect(a).toBeInstanceOf(Conn);
      expect(typeof b[Symbol.dispose]).toBe("function");
      return ok(a.name);
    });
    expect(r.isOk() && r.value).toBe("a");
    expect(log).toEqual(["dispose b (sync)", "defer", "dispose a"]);
  });

  it("calls the dispose method with the resource as this, and prefers asyncDispose", async () => {
    const seen: unknown[] = [];
    const both = {
      [Symbol.asyncDispose]() {
        seen.push(["async", this]);
        return Promise.resolve();
      },
      [Symbol.dispose]() {
        seen.push(["sync", this]);
      },
    };
    await transaction((tx) => ok(tx.use(both)));
    expect(seen).toEqual([["async", both]]);
  });

  it("a failing dispose is a cleanup failure like any other: recorded, the unwind goes on, guards retain (R3, R4)", async () => {
    const log: string[] = [];
    const r = await transaction((tx) => {
      tx.errdefer(() => void log.push("guarded"), { guard: true, label: "guarded" });
      tx.use(new Conn("conn", log, true), { label: "close-conn" });
      tx.use(new Conn("after", log));
      return err("body failed");
    });
    const e = errorOf(r);
    expect(e.cause).toBe("body failed");
    expect(e.cleanupFailures.map((f) => [f.label, (f.error as Error).message])).toEqual([
      ["close-conn", "conn: close failed"],
    ]);
    expect(e.retained).toEqual([{ label: "guarded" }]);
    expect(log).toEqual(["dispose after", "dispose conn"]);
  });

  it("takes the cleanup options: on, timeoutMs", async () => {
    const log: string[] = [];
    const ok1 = await transaction((tx) => {
      tx.use(new Conn("only-on-error", log), { on: "error" });
      return ok(1);
    });
    expect(ok1.isOk()).toBe(true);
    expect(log).toEqual([]);
    const hang = { [Symbol.asyncDispose]: () => new Promise<void>(() => undefined) };
    const r = await transaction((tx) => {
      tx.use(hang, { timeoutMs: 10, label: "hang" });
      return ok(1);
    });
    expect(errorOf(r).cause).toBeInstanceOf(CleanupTimeoutError);
  });

  it("passes null and undefined through with nothing registered, as AsyncDisposableStack.use does", async () => {
    const r = await transaction((tx) => ok([tx.use(null), tx.use(undefined)]));
    expect(r.isOk() && r.value).toEqual([null, undefined]);
  });

  it("rejects a value that is not disposable with a TypeError naming the argument, and registers nothing", async () => {
    for (const bad of [42, "conn", {}, { [Symbol.asyncDispose]: "close" }]) {
      let thrown: unknown;
      const r = await transaction((tx) => {
        try {
          tx.use(bad as never);
        } catch (e) {
          thrown = e;
        }
        return ok(1);
      });
      expect(r.isOk()).toBe(true);
      expect(thrown).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toMatch(/tx\.use: resource must have a \[Symbol\.asyncDispose\]/);
    }
  });

  it("after the body ended: a TransactionClosedError, like tx.defer (R9)", async () => {
    let late: (() => unknown) | undefined;
    await transaction((tx) => {
      late = () => tx.use(new Conn("late", []));
      return ok(1);
    });
    expect(late).toThrow(/transaction is closed/);
  });
});
