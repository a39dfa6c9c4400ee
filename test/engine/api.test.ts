// The public API around the rules: bad input, events and diagnostics_channel, the error message,
// TransactionClosedError, body forms (R10), ResultAsync cleanups, deadlines, acquire.
import diagnosticsChannel from "node:diagnostics_channel";
import { err, errAsync, ok, okAsync, ResultAsync, type Err, type Result } from "neverthrow";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  CleanupTimeoutError,
  TransactionClosedError,
  TransactionError,
  isTransactionError,
  transaction,
  type CleanupContext,
  type CleanupOptions,
  type Transaction,
  type TransactionEvent,
} from "../../src/index.js";

/** One real macrotask: lets every pending microtask and rejection report run. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function errorOf<T>(r: Result<T, TransactionError>): TransactionError {
  if (r.isOk()) throw new Error(`expected an err, got ok(${String(r.value)})`);
  return r.error;
}

/** Runs `fn` inside a body and returns what it threw (the body then succeeds). */
async function thrownInBody(fn: (tx: Transaction) => void): Promise<unknown> {
  let thrown: unknown = "nothing thrown";
  const r = await transaction((tx) => {
    try {
      fn(tx);
    } catch (e) {
      thrown = e;
    }
    return ok(1);
  });
  expect(r.isOk(), "a rejected registration leaves nothing to run").toBe(true);
  return thrown;
}

describe("bad input is a TypeError naming the argument, at the call", () => {
  it("rejects a cleanup that is not a function", async () => {
    for (const bad of [undefined, null, 42, "rm -rf", {}]) {
      const e = await thrownInBody((tx) => tx.defer(bad as never));
      expect(e).toBeInstanceOf(TypeError);
      expect((e as Error).message).toMatch(/cleanup|fn/);
      const e2 = await thrownInBody((tx) => tx.errdefer(bad as never));
      expect(e2).toBeInstanceOf(TypeError);
    }
  });

  it("rejects a negative or non-finite timeoutMs", async () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const e = await thrownInBody((tx) => tx.defer(() => undefined, { timeoutMs: bad }));
      expect(e, `timeoutMs ${bad}`).toBeInstanceOf(TypeError);
      expect((e as Error).message).toContain("timeoutMs");
    }
  });

  it("rejects an unknown `on`", async () => {
    const e = await thrownInBody((tx) => tx.defer(() => undefined, { on: "sometimes" } as unknown as CleanupOptions));
    expect(e).toBeInstanceOf(TypeError);
    expect((e as Error).message).toMatch(/\bon\b/);
    expect((e as Error).message).toContain("sometimes");
  });

  it("rejects a bad cleanupTimeoutMs synchronously at transaction(), without running the body", () => {
    for (const bad of [-5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const body = vi.fn(() => ok(1));
      expect(() => transaction(body, { cleanupTimeoutMs: bad })).toThrow(TypeError);
      expect(() => transaction(body, { cleanupTimeoutMs: bad })).toThrow(/cleanupTimeoutMs/);
      expect(body).not.toHaveBeenCalled();
    }
  });

  it("rejects a non-function acquireFn or releaseFn", async () => {
    const a = await thrownInBody((tx) => void tx.acquire(5 as never, () => undefined));
    expect(a).toBeInstanceOf(TypeError);
    expect((a as Error).message).toMatch(/acquire/);
    const r = await thrownInBody((tx) => void tx.acquire(() => 1, null as never));
    expect(r).toBeInstanceOf(TypeError);
    expect((r as Error).message).toMatch(/release/);
  });
});

describe("events", () => {
  /** err body; registered R (guarded errdefer), A (defer), S (success), B (errdefer, fails), X (dismissed). */
  async function scenario(onEvent?: (e: TransactionEvent) => void) {
    const f = new Error("teardown failed");
    const r = await transaction(
      (tx) => {
        tx.errdefer(() => undefined, { label: "R", guard: true });
        tx.defer(() => undefined, { label: "A" });
        tx.defer(() => undefined, { label: "S", on: "success" });
        tx.errdefer(
          () => {
            throw f;
          },
          { label: "B" },
        );
        tx.defer(() => undefined, { label: "X" }).dismiss();
        return err("body failed");
      },
      { name: "scenario", ...(onEvent !== undefined ? { onEvent } : {}) },
    );
    return { r, f };
  }

  it("reports registered / started / succeeded / failed / skipped / retained / finished through onEvent", async () => {
    const events: TransactionEvent[] = [];
    const { r, f } = await scenario((e) => events.push(e));
    expect(r.isErr()).toBe(true);
    const ids = new Set(events.map((e) => e.transactionId));
    expect(ids.size).toBe(1);
    const brief = (e: TransactionEvent): string =>
      e.type === "cleanup:skipped"
        ? `${e.type}:${e.label}:${e.reason}`
        : "label" in e
          ? `${e.type}:${e.label}`
          : e.type;
    const dismissed = events.filter((e) => e.type === "cleanup:skipped" && e.reason === "dismissed");
    expect(dismissed.map(brief)).toEqual(["cleanup:skipped:X:dismissed"]);
    expect(events.filter((e) => !dismissed.includes(e)).map(brief)).toEqual([
      "transaction:started",
      "cleanup:registered:R",
      "cleanup:registered:A",
      "cleanup:registered:S",
      "cleanup:registered:B",
      "cleanup:registered:X",
      "cleanup:started:B",
      "cleanup:failed:B",
      "cleanup:skipped:S:kind",
      "cleanup:started:A",
      "cleanup:succeeded:A",
      "cleanup:retained:R",
      "transaction:finished",
    ]);
    const started = events[0]!;
    expect(started.type === "transaction:started" && started.name).toBe("scenario");
    const registered = events.filter((e) => e.type === "cleanup:registered");
    expect(registered.map((e) => e.type === "cleanup:registered" && [e.on, e.guard])).toEqual([
      ["error", true],
      ["always", false],
      ["success", false],
      ["error", false],
      ["always", false],
    ]);
    const failed = events.find((e) => e.type === "cleanup:failed");
    expect(failed?.type === "cleanup:failed" && failed.error).toBe(f);
    for (const e of events) {
      if ("durationMs" in e) expect(e.durationMs).toBeGreaterThanOrEqual(0);
    }
    const finished = events.at(-1)!;
    expect(finished.type).toBe("transaction:finished");
    if (finished.type === "transaction:finished") {
      expect(finished.ok).toBe(false);
      expect(finished.name).toBe("scenario");
      expect(finished.cleanupFailures.map((x) => [x.label, x.error])).toEqual([["B", f]]);
      expect(finished.retained.map((x) => x.label)).toEqual(["R"]);
    }
  });

  it("publishes the same events on diagnostics_channel errdefer:transaction and errdefer:cleanup", async () => {
    const onTransaction: TransactionEvent[] = [];
    const onCleanup: TransactionEvent[] = [];
    const tl = (m: unknown): void => void onTransaction.push(m as TransactionEvent);
    const cl = (m: unknown): void => void onCleanup.push(m as TransactionEvent);
    diagnosticsChannel.subscribe("errdefer:transaction", tl);
    diagnosticsChannel.subscribe("errdefer:cleanup", cl);
    const viaObserver: TransactionEvent[] = [];
    try {
      await scenario((e) => viaObserver.push(e));
    } finally {
      diagnosticsChannel.unsubscribe("errdefer:transaction", tl);
      diagnosticsChannel.unsubscribe("errdefer:cleanup", cl);
    }
    const id = viaObserver[0]!.transactionId;
    const mine = (e: TransactionEvent): boolean => e.transactionId === id;
    expect(onTransaction.filter(mine)).toEqual(viaObserver.filter((e) => e.type.startsWith("transaction:")));
    expect(onCleanup.filter(mine)).toEqual(viaObserver.filter((e) => e.type.startsWith("cleanup:")));
    expect(onTransaction.filter(mine).map((e) => e.type)).toEqual(["transaction:started", "transaction:finished"]);
  });

  it("publishes on diagnostics_channel without an onEvent observer", async () => {
    const seen: TransactionEvent[] = [];
    const l = (m: unknown): void => void seen.push(m as TransactionEvent);
    diagnosticsChannel.subscribe("errdefer:cleanup", l);
    try {
      await scenario();
    } finally {
      diagnosticsChannel.unsubscribe("errdefer:cleanup", l);
    }
    expect(seen.some((e) => e.type === "cleanup:retained" && e.label === "R")).toBe(true);
  });

  it("ignores a throwing observer", async () => {
    const { r, f } = await scenario(() => {
      throw new Error("observer broke");
    });
    const e = errorOf(r);
    expect(e.cause).toBe("body failed");
    expect(e.cleanupFailures.map((x) => x.error)).toEqual([f]);
  });
});

describe("TransactionError", () => {
  it("has a message that starts with the primary cause and names each failed and retained cleanup", async () => {
    const r = await transaction((tx) => {
      tx.errdefer(() => undefined, { label: "remove-netns", guard: true });
      tx.errdefer(() => errAsync(new Error("device busy")), { label: "teardown-network" });
      return err(new Error("setup network: timeout"));
    });
    const e = errorOf(r);
    expect(e.message.startsWith("setup network: timeout")).toBe(true);
    expect(e.message).toContain("teardown-network");
    expect(e.message).toContain("remove-netns");
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(TransactionError);
  });

  it("says a cleanup's failure once when it is the primary cause (the body succeeded)", async () => {
    const r = await transaction((tx) => {
      tx.defer(() => errAsync(new Error("close failed")), { label: "close" });
      tx.defer(() => errAsync(new Error("flush failed")), { label: "flush" });
      return ok(1);
    });
    const e = errorOf(r);
    expect(e.origin).toBe("cleanup");
    expect(e.message).toBe('flush failed (in cleanup "flush"); cleanup "close" failed: close failed');
  });

  it("starts with String(value) for a non-Error cause", async () => {
    const r = await transaction(() => err("quota exceeded"));
    expect(errorOf(r).message.startsWith("quota exceeded")).toBe(true);
    const n = await transaction(() => err(404));
    expect(errorOf(n).message.startsWith("404")).toBe(true);
    expect(errorOf(n).cause).toBe(404);
  });

  it("has a stack that names the code which ran the transaction, whatever the cause and the body", async () => {
    async function startPodWithSyncBody(): Promise<TransactionError> {
      return errorOf(
        await transaction((tx) => {
          tx.errdefer(() => undefined);
          return err("quota exceeded");
        }),
      );
    }
    async function startPodWithAsyncBody(): Promise<TransactionError> {
      return errorOf(
        await transaction(async (tx) => {
          await flush();
          tx.errdefer(() => Promise.resolve());
          return err("quota exceeded");
        }),
      );
    }
    async function startPodWithErrorCause(): Promise<TransactionError> {
      return errorOf(
        await transaction(async (tx) => {
          tx.errdefer(() => Promise.resolve());
          return err(new Error("setup network: timeout"));
        }),
      );
    }
    for (const [caller, e] of [
      ["startPodWithSyncBody", await startPodWithSyncBody()],
      ["startPodWithAsyncBody", await startPodWithAsyncBody()],
      ["startPodWithErrorCause", await startPodWithErrorCause()],
    ] as const) {
      const stack = e.stack ?? "";
      expect(stack.split("\n")[0], caller).toBe(`TransactionError: ${e.message}`);
      expect(stack, caller).toMatch(/\n {4}at /);
      expect(stack, caller).toContain(caller);
      expect(stack, caller).toContain("api.test.ts");
    }
    // An Error cause: its frames, where the failure came from, are the top of the stack.
    const e = await startPodWithErrorCause();
    expect(e.stack?.split("\n")[1]).toBe((e.cause as Error).stack?.split("\n")[1]);
    // The stack can still be replaced, as any Error's.
    e.stack = "replaced";
    expect(e.stack).toBe("replaced");
  });

  it("is recognised by isTransactionError and nothing else is", async () => {
    const e = errorOf(await transaction(() => err("x")));
    expect(isTransactionError(e)).toBe(true);
    for (const other of [new Error("x"), null, undefined, "x", { cause: "x", cleanupFailures: [] }]) {
      expect(isTransactionError(other)).toBe(false);
    }
  });
});

describe("TransactionClosedError (R9)", () => {
  it("is thrown synchronously by defer / errdefer after the body ended, and tx.closed says so", async () => {
    let saved: Transaction | undefined;
    const during: boolean[] = [];
    const fromCleanup: unknown[] = [];
    const r = await transaction((tx) => {
      saved = tx;
      during.push(tx.closed);
      tx.defer(() => {
        during.push(tx.closed);
        try {
          tx.defer(() => undefined);
        } catch (e) {
          fromCleanup.push(e);
        }
      });
      return ok(1);
    });
    expect(r.isOk()).toBe(true);
    expect(during).toEqual([false, true]);
    expect(fromCleanup).toHaveLength(1);
    expect(fromCleanup[0]).toBeInstanceOf(TransactionClosedError);
    expect(saved!.closed).toBe(true);
    expect(() => saved!.defer(() => undefined)).toThrow(TransactionClosedError);
    expect(() => saved!.errdefer(() => undefined, { label: "late" })).toThrow(TransactionClosedError);
    expect(new TransactionClosedError("x", "register")).toBeInstanceOf(Error);
  });

  it("releases at once a resource acquired after the body ended and returns err(TransactionClosedError)", async () => {
    const resource = { fd: 7 };
    let resolve!: (r: typeof resource) => void;
    const released: unknown[] = [];
    let acquisition: ResultAsync<typeof resource, unknown> | undefined;
    const r = await transaction((tx) => {
      acquisition = tx.acquire(
        () => new Promise<typeof resource>((res) => (resolve = res)),
        (res) => void released.push(res),
      );
      return ok(1);
    });
    expect(r.isOk()).toBe(true);
    expect(released).toEqual([]);
    resolve(resource);
    const a = await acquisition!;
    await flush();
    expect(released).toHaveLength(1);
    expect(released[0]).toBe(resource);
    expect(a.isErr() && a.error).toBeInstanceOf(TransactionClosedError);
  });
});

describe("body forms", () => {
  it("accepts a Result, a ResultAsync, a Promise of a Result and an async function", async () => {
    const v = { v: 1 };
    const bodies: (() =>
      Result<typeof v, never> | ResultAsync<typeof v, never> | PromiseLike<Result<typeof v, never>>)[] = [
      () => ok(v),
      () => okAsync(v),
      () => Promise.resolve(ok(v)),
      async () => {
        await Promise.resolve();
        return ok(v);
      },
    ];
    for (const body of bodies) {
      const r = await transaction(body);
      expect(r.isOk() && r.value).toBe(v);
    }
  });

  it("turns a throw or a rejection into err with origin throw and the very value", async () => {
    const boom = new Error("boom");
    const ran: string[] = [];
    for (const body of [
      (tx: Transaction) => {
        tx.errdefer(() => void ran.push("sync"));
        throw boom;
      },
      async (tx: Transaction) => {
        tx.errdefer(() => void ran.push("async"));
        await Promise.resolve();
        throw boom;
      },
      (tx: Transaction) => {
        tx.errdefer(() => void ran.push("promise"));
        return Promise.reject<Result<number, never>>(boom);
      },
    ]) {
      const e = errorOf(await transaction(body));
      expect(e.cause).toBe(boom);
      expect(e.origin).toBe("throw");
    }
    expect(ran).toEqual(["sync", "async", "promise"]);
  });

  it("a generator body: yield* unwraps oks, a yielded err ends it and its finally blocks run before the unwind", async () => {
    const log: string[] = [];
    const e = new Error("step 3 failed");
    const r = await transaction(function* (tx): Generator<Err<never, Error>, Result<number, Error>> {
      tx.errdefer(() => void log.push("cleanup A"), { label: "A" });
      try {
        const a = yield* ok(1);
        tx.errdefer(() => void log.push("cleanup B"), { label: "B" });
        try {
          const b = yield* ok(2);
          log.push(`got ${a + b}`);
          yield* err(e);
          log.push("after the yielded err");
          return ok(a + b);
        } finally {
          log.push("inner finally");
        }
      } finally {
        log.push("outer finally");
      }
    });
    expect(log).toEqual(["got 3", "inner finally", "outer finally", "cleanup B", "cleanup A"]);
    const te = errorOf(r);
    expect(te.cause).toBe(e);
    expect(te.origin).toBe("err");
  });

  it("an async generator body: yield* of ResultAsync, awaits, and R10's ordering", async () => {
    const log: string[] = [];
    const e = new Error("async step failed");
    const r = await transaction(async function* (tx): AsyncGenerator<Err<never, unknown>, Result<string, Error>> {
      try {
        tx.errdefer(() => void log.push("cleanup A"));
        const a = yield* okAsync("a");
        await Promise.resolve();
        const res = yield* tx.acquire(
          () => Promise.resolve(`${a}-res`),
          (x) => void log.push(`release ${x}`),
        );
        log.push(`got ${res}`);
        yield* errAsync(e);
        log.push("after the yielded err");
        return ok(res);
      } finally {
        await Promise.resolve();
        log.push("finally");
      }
    });
    expect(log).toEqual(["got a-res", "finally", "release a-res", "cleanup A"]);
    expect(errorOf(r).cause).toBe(e);
  });

  it("a generator body that returns ok runs no errdefer", async () => {
    const log: string[] = [];
    const r = await transaction(function* (tx): Generator<Err<never, string>, Result<number, string>> {
      tx.errdefer(() => void log.push("errdefer"));
      tx.defer(() => void log.push("defer"));
      const x = yield* ok(20);
      return ok(x + 1);
    });
    expect(r.isOk() && r.value).toBe(21);
    expect(log).toEqual(["defer"]);
  });

  it("a body that returns no Result fails with a TypeError that names the fix, as the type error does", async () => {
    const cases: [string, () => unknown, RegExp][] = [
      ["a plain value", () => 42, /must return a Result: wrap the value in ok\(\.\.\.\) \(got 42\)/],
      [
        "a Promise of a plain value",
        async () => "done",
        /must return a Result: wrap the value in ok\(\.\.\.\) \(got done\)/,
      ],
      ["nothing", () => undefined, /must return a Result: return ok\(value\), or ok\(undefined\) when there is none/],
      ["an async body returning nothing", async () => undefined, /or ok\(undefined\) when there is none/],
    ];
    for (const [what, body, message] of cases) {
      const ran: string[] = [];
      const e = errorOf(
        await transaction((tx) => {
          tx.errdefer(() => void ran.push("errdefer"));
          return body() as never;
        }),
      );
      expect(e.cause, what).toBeInstanceOf(TypeError);
      expect((e.cause as TypeError).message, what).toMatch(message);
      expect(e.origin, what).toBe("throw");
      expect(ran, `${what}: the body failed, so its errdefers ran`).toEqual(["errdefer"]);
    }
  });

  it("does not run the body when the caller's signal is already aborted", async () => {
    const reason = new Error("request cancelled");
    const body = vi.fn(() => ok(1));
    const r = await transaction(body, { signal: AbortSignal.abort(reason) });
    expect(body).not.toHaveBeenCalled();
    const e = errorOf(r);
    expect(e.cause).toBe(reason);
    expect(e.origin).toBe("throw");
  });

  it("exposes the caller's signal as tx.signal, and a live one when none is given", async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await transaction(
      (tx) => {
        seen = tx.signal;
        return ok(1);
      },
      { signal: controller.signal },
    );
    expect(seen).toBe(controller.signal);
    await transaction((tx) => {
      seen = tx.signal;
      return ok(1);
    });
    expect(seen?.aborted).toBe(false);
  });
});

describe("cleanups returning Results", () => {
  it("treats ok / okAsync as success and err / errAsync / a late err ResultAsync as failure, keeping the very error", async () => {
    const f1 = new Error("err");
    const f2 = { code: "EBUSY" };
    const f3 = "late";
    const r = await transaction((tx) => {
      tx.defer(() => new ResultAsync(Promise.resolve(err(f3))), { label: "late-err" });
      tx.defer(() => errAsync(f2), { label: "err-async" });
      tx.defer(() => err(f1), { label: "err" });
      tx.defer(() => okAsync("fine"), { label: "ok-async" });
      tx.defer(() => ok("fine"), { label: "ok" });
      return ok(1);
    });
    const e = errorOf(r);
    expect(e.cleanupFailures.map((x) => x.label)).toEqual(["err", "err-async", "late-err"]);
    expect(e.cleanupFailures[0]!.error).toBe(f1);
    expect(e.cleanupFailures[1]!.error).toBe(f2);
    expect(e.cleanupFailures[2]!.error).toBe(f3);
    expect(e.cause).toBe(f1);
    expect(e.origin).toBe("cleanup");
  });

  it("gives each cleanup the failures so far, its label, retErr and failed", async () => {
    const seen: { label: string; failures: string[]; failed: boolean; retErr: unknown }[] = [];
    const look = (ctx: CleanupContext): void =>
      void seen.push({
        label: ctx.label,
        failures: ctx.cleanupFailures.map((x) => x.label),
        failed: ctx.failed,
        retErr: ctx.retErr,
      });
    const f = new Error("f");
    await transaction((tx) => {
      tx.defer(look, { label: "last" });
      tx.defer(() => errAsync(f), { label: "failing" });
      tx.defer(look);
      return ok(1);
    });
    expect(seen).toEqual([
      { label: "cleanup-3", failures: [], failed: false, retErr: undefined },
      { label: "last", failures: ["failing"], failed: true, retErr: f },
    ]);
  });
});

describe("handles and labels", () => {
  it("labels cleanup-<n> by registration index, dismissed ones included, and dismiss() is true once", async () => {
    const labels: string[] = [];
    const dismissals: boolean[] = [];
    const r = await transaction((tx) => {
      const a = tx.defer(() => undefined);
      const b = tx.errdefer(() => undefined);
      const c = tx.defer((ctx) => void labels.push(ctx.label));
      labels.push(a.label, b.label, c.label);
      dismissals.push(b.dismiss(), b.dismiss());
      return ok(1);
    });
    expect(r.isOk()).toBe(true);
    expect(labels).toEqual(["cleanup-1", "cleanup-2", "cleanup-3", "cleanup-3"]);
    expect(dismissals).toEqual([true, false]);
  });

  it("dismiss() of a cleanup that already ran is false", async () => {
    const results: boolean[] = [];
    const ran: string[] = [];
    const r = await transaction((tx) => {
      // "a" runs last, after "b" has run.
      tx.defer(() => void results.push(handleB.dismiss()), { label: "a" });
      const handleB = tx.defer(() => void ran.push("b"), { label: "b" });
      return ok(1);
    });
    expect(r.isOk()).toBe(true);
    expect(ran).toEqual(["b"]);
    expect(results).toEqual([false]);
  });
});

describe("acquire", () => {
  it("accepts a plain value, a Promise, a Result and a ResultAsync, and releases the very resource", async () => {
    const res = [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }] as const;
    const released: unknown[] = [];
    const got: unknown[] = [];
    const r = await transaction(async (tx) => {
      const release = (x: unknown, ctx: CleanupContext): void => {
        expect(ctx.label).toMatch(/^(cleanup-\d+|r\d)$/);
        released.push(x);
      };
      got.push((await tx.acquire(() => res[0], release)).unwrapOr(null));
      got.push((await tx.acquire(() => Promise.resolve(res[1]), release)).unwrapOr(null));
      got.push((await tx.acquire(() => ok(res[2]), release, { label: "r3" })).unwrapOr(null));
      got.push((await tx.acquire(() => okAsync(res[3]), release)).unwrapOr(null));
      return ok("done");
    });
    expect(r.isOk()).toBe(true);
    expect(got).toEqual([...res]);
    got.forEach((x, k) => expect(x).toBe(res[k]));
    expect(released).toEqual([res[3], res[2], res[1], res[0]]);
    released.forEach((x, k) => expect(x).toBe(res[3 - k]));
  });

  it("returns an acquisition's err or throw as an err and registers nothing", async () => {
    const e1 = new Error("no such device");
    const e2 = new Error("thrown");
    const released: unknown[] = [];
    const outcomes: unknown[] = [];
    await transaction(async (tx) => {
      const a = await tx.acquire(
        () => err(e1),
        () => void released.push("a"),
      );
      const b = await tx.acquire(
        () => {
          throw e2;
        },
        () => void released.push("b"),
      );
      const c = await tx.acquire(
        () => Promise.reject(e2),
        () => void released.push("c"),
      );
      outcomes.push(a.isErr() && a.error, b.isErr() && b.error, c.isErr() && c.error);
      return ok(1);
    });
    expect(outcomes).toEqual([e1, e2, e2]);
    expect(outcomes[0]).toBe(e1);
    expect(released).toEqual([]);
  });

  it("with registerFirst, releases with undefined when the acquisition failed (CNI ADD)", async () => {
    const addFailed = new Error("CNI ADD failed half way");
    const released: unknown[] = [];
    const r = await transaction(async (tx) => {
      const net = await tx.acquire(
        () => errAsync(addFailed),
        (x) => void released.push(x),
        { registerFirst: true, label: "cni-del" },
      );
      if (net.isErr()) return err(net.error);
      return ok(net.value);
    });
    expect(released).toEqual([undefined]);
    expect(errorOf(r).cause).toBe(addFailed);
  });

  it("respects `on` for the release", async () => {
    const released: string[] = [];
    await transaction(async (tx) => {
      await tx.acquire(
        () => "x",
        () => void released.push("on error"),
        { on: "error" },
      );
      await tx.acquire(
        () => "y",
        () => void released.push("always"),
      );
      return ok(1);
    });
    expect(released).toEqual(["always"]);
  });
});

describe("deadlines (fake timers)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("times a hanging cleanup out at the default 60 s, not before", async () => {
    let settled = false;
    const t0 = Date.now();
    const p = transaction((tx) => {
      tx.defer(() => new Promise(() => undefined), { label: "hang" });
      return ok(1);
    });
    void p.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(59_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBe(true);
    const e = errorOf(await p);
    expect(e.cause).toBeInstanceOf(CleanupTimeoutError);
    expect(e.cause).toBe(e.cleanupFailures[0]!.error);
    const t = e.cause as CleanupTimeoutError;
    expect([t.label, t.timeoutMs]).toEqual(["hang", 60_000]);
    expect(Date.now() - t0).toBe(60_000);
  });

  it("uses a cleanup's own timeoutMs over the transaction's cleanupTimeoutMs, and aborts its signal then", async () => {
    const t0 = Date.now();
    const log: string[] = [];
    const hang = (ctx: CleanupContext): Promise<void> => {
      log.push(`${ctx.label} starts at ${Date.now() - t0}`);
      ctx.signal.addEventListener("abort", () => log.push(`${ctx.label} aborted at ${Date.now() - t0}`));
      return new Promise(() => undefined);
    };
    const p = transaction(
      (tx) => {
        tx.defer(hang, { label: "own", timeoutMs: 500 });
        tx.defer(hang, { label: "default" });
        tx.defer(
          (ctx) =>
            new Promise<void>((resolve) =>
              setTimeout(() => {
                log.push(`${ctx.label} done`);
                resolve();
              }, 99),
            ),
          { label: "quick" },
        );
        return ok(1);
      },
      { cleanupTimeoutMs: 100 },
    );
    await vi.runAllTimersAsync();
    const e = errorOf(await p);
    expect(log).toEqual([
      "quick done",
      "default starts at 99",
      "default aborted at 199",
      "own starts at 199",
      "own aborted at 699",
    ]);
    expect(e.cleanupFailures.map((f) => [f.label, (f.error as CleanupTimeoutError).timeoutMs])).toEqual([
      ["default", 100],
      ["own", 500],
    ]);
    for (const f of e.cleanupFailures) expect(f.error).toBeInstanceOf(CleanupTimeoutError);
  });

  it("absorbs the late settlement of a timed-out cleanup: no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const late = new Error("late rejection");
      const p = transaction(
        (tx) => {
          tx.defer(() => new Promise((_, reject) => setTimeout(() => reject(late), 300)), { label: "rejects-late" });
          tx.defer(() => new ResultAsync(new Promise((_, reject) => setTimeout(() => reject(late), 250))), {
            label: "result-async-rejects-late",
          });
          tx.defer(() => new ResultAsync(new Promise((resolve) => setTimeout(() => resolve(err(late)), 250))), {
            label: "err-late",
          });
          return ok(1);
        },
        { cleanupTimeoutMs: 50 },
      );
      await vi.runAllTimersAsync();
      await vi.advanceTimersByTimeAsync(1_000);
      await flush();
      await flush();
      const e = errorOf(await p);
      expect(e.cleanupFailures.map((f) => f.label)).toEqual(["err-late", "result-async-rejects-late", "rejects-late"]);
      for (const f of e.cleanupFailures) expect(f.error).toBeInstanceOf(CleanupTimeoutError);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("keeps a cleanup's signal live when the caller aborts during the unwind", async () => {
    const controller = new AbortController();
    const seen: boolean[] = [];
    const p = transaction(
      (tx) => {
        tx.defer(async (ctx) => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          seen.push(ctx.signal.aborted);
        });
        tx.defer(() => {
          controller.abort();
        });
        return ok(1);
      },
      { signal: controller.signal },
    );
    await vi.runAllTimersAsync();
    expect((await p).isOk()).toBe(true);
    expect(seen).toEqual([false]);
  });
});

describe("tx.acquire with registerFirst, when the body ends before the acquisition settles", () => {
  it("the release waits for the acquisition and runs once, with the resource (R1, R9)", async () => {
    let resolve!: (v: string) => void;
    const calls: unknown[] = [];
    const result = await transaction((tx) => {
      void tx.acquire(
        () => new Promise<string>((r) => (resolve = r)),
        (x) => void calls.push(x),
        { registerFirst: true, label: "cni-del" },
      );
      setTimeout(() => resolve("netns-1"), 5);
      return err("body failed");
    });
    expect(result.isErr()).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual(["netns-1"]);
  });
});
