// Type tests: the ok and error types flow through the body, the generator forms and tx.acquire;
// misuse does not compile.
import { err, errAsync, ok, okAsync, type Err, type Result, type ResultAsync } from "neverthrow";
import { describe, expectTypeOf, it } from "vitest";
import {
  transaction,
  type BodyTypeError,
  type CheckBody,
  type CleanupContext,
  type TransactionClosedError,
  type TransactionError,
} from "../../src/index.js";

class SetupError extends Error {
  readonly kind = "setup";
}
class ConnectError extends Error {
  readonly kind = "connect";
}
interface Conn {
  readonly id: number;
}
declare const flag: boolean;
declare function connect(): ResultAsync<Conn, ConnectError>;
declare function makeConn(): Conn;
declare function parse(s: string): Result<number, SetupError>;
declare function openConn(signal: AbortSignal): Promise<Conn>;
declare function connectWith(signal: AbortSignal): ResultAsync<Conn, ConnectError>;
declare function parseWith(signal: AbortSignal): Result<number, SetupError>;
// Named releases, declared apart from the call (the natural way with the signal passed on).
async function closeConn(conn: Conn): Promise<void> {
  void conn.id;
}
const dropNumber = (n: number): void => void n;
const closeAnything = (o: object): void => void o;

describe("transaction() inference", () => {
  it("infers the ok and error types of a plain body", () => {
    expectTypeOf(transaction(() => ok(1))).toEqualTypeOf<ResultAsync<number, TransactionError<never>>>();
    expectTypeOf(transaction(() => err(new SetupError("x")))).toEqualTypeOf<
      ResultAsync<never, TransactionError<SetupError>>
    >();
    expectTypeOf(transaction(() => parse("1"))).toEqualTypeOf<ResultAsync<number, TransactionError<SetupError>>>();
  });

  it("infers through a body returning a union of ok and err", () => {
    const r = transaction(() => (flag ? ok({ id: 1 }) : err("quota" as const)));
    expectTypeOf(r).toEqualTypeOf<ResultAsync<{ id: number }, TransactionError<"quota">>>();
  });

  it("infers through async bodies, ResultAsync bodies and Promises of Results", () => {
    const a = transaction(async (tx) => {
      const c = await tx.acquire(
        () => connect(),
        () => undefined,
      );
      if (c.isErr()) return err(c.error);
      return flag ? ok(c.value.id) : err(new SetupError("late"));
    });
    expectTypeOf(a).toEqualTypeOf<
      ResultAsync<number, TransactionError<ConnectError | TransactionClosedError | SetupError>>
    >();
    expectTypeOf(transaction(() => connect())).toEqualTypeOf<ResultAsync<Conn, TransactionError<ConnectError>>>();
    expectTypeOf(transaction(() => Promise.resolve(parse("2")))).toEqualTypeOf<
      ResultAsync<number, TransactionError<SetupError>>
    >();
  });

  it("awaits to a Result whose error is a TransactionError", async () => {
    const r = await transaction(() => parse("3"));
    expectTypeOf(r).toEqualTypeOf<Result<number, TransactionError<SetupError>>>();
    if (r.isErr()) {
      expectTypeOf(r.error.cleanupFailures).toEqualTypeOf<
        readonly { readonly label: string; readonly error: unknown }[]
      >();
      expectTypeOf(r.error.retained).items.toHaveProperty("label").toEqualTypeOf<string>();
      expectTypeOf(r.error.origin).toEqualTypeOf<"err" | "throw" | "cleanup" | "set">();
    }
  });

  it("infers through a generator body: yielded errs and the returned Result", () => {
    const r = transaction(function* () {
      const n = yield* parse("4");
      const m = yield* flag ? ok(n) : err(new ConnectError("c"));
      return ok(String(n + m));
    });
    expectTypeOf(r).toEqualTypeOf<ResultAsync<string, TransactionError<SetupError | ConnectError>>>();
  });

  it("infers through an async generator body with yield* of ResultAsync and tx.acquire", () => {
    const r = transaction(async function* (tx) {
      const c = yield* tx.acquire(
        () => connect(),
        (conn) => void conn.id,
      );
      const n = yield* okAsync(c.id);
      if (n < 0) return err("negative" as const);
      return ok(n);
    });
    expectTypeOf(r).toEqualTypeOf<
      ResultAsync<number, TransactionError<ConnectError | TransactionClosedError | "negative">>
    >();
    const s = transaction(async function* () {
      yield* errAsync(new SetupError("s"));
      return ok(true);
    });
    expectTypeOf(s).toEqualTypeOf<ResultAsync<boolean, TransactionError<SetupError>>>();
  });
});

describe("tx.acquire inference", () => {
  it("a plain-value acquireFn: the resource type, and an unknown error (it can only throw)", () => {
    void transaction(async (tx) => {
      const plain = tx.acquire(
        () => makeConn(),
        (conn, ctx) => {
          expectTypeOf(conn).toEqualTypeOf<Conn>();
          expectTypeOf(ctx).toEqualTypeOf<CleanupContext>();
        },
      );
      expectTypeOf(plain).toEqualTypeOf<ResultAsync<Conn, unknown>>();
      const promised = tx.acquire(
        async () => 42,
        (n) => {
          expectTypeOf(n).toEqualTypeOf<number>();
        },
      );
      expectTypeOf(promised).toEqualTypeOf<ResultAsync<number, unknown>>();
      return ok(await plain.unwrapOr(null));
    });
  });

  it("a Result-returning acquireFn: its ok type and its err type plus TransactionClosedError", () => {
    void transaction((tx) => {
      const viaResultAsync = tx.acquire(
        () => connect(),
        (conn) => {
          expectTypeOf(conn).toEqualTypeOf<Conn>();
        },
      );
      expectTypeOf(viaResultAsync).toEqualTypeOf<ResultAsync<Conn, ConnectError | TransactionClosedError>>();
      const viaResult = tx.acquire(
        () => parse("5"),
        (n) => {
          expectTypeOf(n).toEqualTypeOf<number>();
        },
      );
      expectTypeOf(viaResult).toEqualTypeOf<ResultAsync<number, SetupError | TransactionClosedError>>();
      return ok(1);
    });
  });

  it("a named release with an acquireFn that takes the signal: the resource type, not unknown", () => {
    void transaction(async (tx) => {
      const viaPromise = tx.acquire((signal) => openConn(signal), closeConn);
      expectTypeOf(viaPromise).toEqualTypeOf<ResultAsync<Conn, unknown>>();
      const viaResultAsync = tx.acquire((signal) => connectWith(signal), closeConn);
      expectTypeOf(viaResultAsync).toEqualTypeOf<ResultAsync<Conn, ConnectError | TransactionClosedError>>();
      const viaResult = tx.acquire((signal) => parseWith(signal), dropNumber);
      expectTypeOf(viaResult).toEqualTypeOf<ResultAsync<number, SetupError | TransactionClosedError>>();
      const viaAsync = tx.acquire(async (signal) => openConn(signal), closeConn, { label: "conn" });
      expectTypeOf(viaAsync).toEqualTypeOf<ResultAsync<Conn, unknown>>();
      return ok(await viaPromise.map((c) => c.id).unwrapOr(0));
    });
  });

  it("an inline release with an acquireFn that takes the signal", () => {
    void transaction((tx) => {
      const r = tx.acquire(
        (signal) => connectWith(signal),
        (conn) => {
          expectTypeOf(conn).toEqualTypeOf<Conn>();
        },
      );
      expectTypeOf(r).toEqualTypeOf<ResultAsync<Conn, ConnectError | TransactionClosedError>>();
      return ok(1);
    });
  });

  it("a release taking a supertype of the resource: the resource keeps its own type", () => {
    void transaction((tx) => {
      const r = tx.acquire((signal) => connectWith(signal), closeAnything);
      expectTypeOf(r).toEqualTypeOf<ResultAsync<Conn, ConnectError | TransactionClosedError>>();
      const s = tx.acquire(
        (signal) => openConn(signal),
        (o: { readonly id: number }) => void o.id,
      );
      expectTypeOf(s).toEqualTypeOf<ResultAsync<Conn, unknown>>();
      return ok(1);
    });
  });

  it("rejects a named release of another type", () => {
    void transaction((tx) => {
      // @ts-expect-error dropNumber takes a number, the acquisition produces a Conn
      void tx.acquire((signal) => connectWith(signal), dropNumber);
      // @ts-expect-error closeConn takes a Conn, the acquisition produces a number
      void tx.acquire((signal) => parseWith(signal), closeConn);
      // @ts-expect-error with registerFirst the named release must accept undefined
      void tx.acquire((signal) => openConn(signal), closeConn, { registerFirst: true });
      return ok(1);
    });
  });

  it("rejects a release whose parameter is not the acquired resource", () => {
    void transaction((tx) => {
      void tx.acquire(
        () => connect(),
        // @ts-expect-error the release takes a string, the acquisition produces a Conn
        (s: string) => void s.length,
      );
      return ok(1);
    });
  });

  it("registerFirst: the release may receive undefined", () => {
    void transaction((tx) => {
      const r = tx.acquire(
        () => connect(),
        (conn) => {
          expectTypeOf(conn).toEqualTypeOf<Conn | undefined>();
        },
        { registerFirst: true },
      );
      expectTypeOf(r).toEqualTypeOf<ResultAsync<Conn, ConnectError | TransactionClosedError>>();
      return ok(1);
    });
  });
});

describe("tx.use", () => {
  it("returns the very type it was given, and refuses what is not disposable", () => {
    void transaction((tx) => {
      const conn = tx.use({ id: 1, [Symbol.asyncDispose]: () => Promise.resolve() });
      expectTypeOf(conn).toEqualTypeOf<{ id: number; [Symbol.asyncDispose]: () => Promise<void> }>();
      const file = tx.use({ fd: 3, [Symbol.dispose]: () => undefined }, { label: "close-file", guard: true });
      expectTypeOf(file.fd).toEqualTypeOf<number>();
      expectTypeOf(tx.use(null)).toEqualTypeOf<null>();
      // @ts-expect-error not disposable
      tx.use({ id: 1 });
      // @ts-expect-error not disposable
      tx.use(42);
      // @ts-expect-error the options are a cleanup's
      tx.use(file, { on: "sometimes" });
      return ok(conn.id);
    });
  });
});

describe("misuse does not compile", () => {
  it("a body that returns no Result: one error whose type names the fix", () => {
    // @ts-expect-error the body must return a Result: wrap the value in ok(...)
    void transaction(() => 42);
    // @ts-expect-error an async body must resolve to a Result: wrap the value in ok(...)
    void transaction(async () => ({ id: 1 }));
    // @ts-expect-error a Promise of a plain value, without async
    void transaction(() => Promise.resolve(7));
    // @ts-expect-error forgot to return: return ok(value), or ok(undefined)
    void transaction((tx) => void tx.defer(() => undefined));
    // @ts-expect-error a Result on one path only
    void transaction((tx) => {
      tx.defer(() => undefined);
      if (flag) return ok(1);
    });
    // @ts-expect-error an async body that forgot to return
    void transaction(async (tx) => {
      await Promise.resolve();
      tx.defer(() => undefined);
    });
    expectTypeOf<CheckBody<number>>().toEqualTypeOf<
      BodyTypeError<"the body must return a Result: wrap the value in ok(...)">
    >();
    expectTypeOf<CheckBody<Promise<string>>>().toEqualTypeOf<
      BodyTypeError<"an async body must resolve to a Result: wrap the value in ok(...)">
    >();
    expectTypeOf<CheckBody<void>>().toEqualTypeOf<
      BodyTypeError<"the body must return a Result: return ok(value), or ok(undefined) when there is none">
    >();
    expectTypeOf<CheckBody<Promise<void>>>().toEqualTypeOf<
      BodyTypeError<"an async body must resolve to a Result: return ok(value), or ok(undefined) when there is none">
    >();
    expectTypeOf<CheckBody<Generator<number, Result<number, never>>>>().toEqualTypeOf<
      BodyTypeError<"a generator body may only yield err Results (use yield* on a Result) and must return a Result">
    >();
  });

  it("every valid body form still compiles, and checks to no error", () => {
    expectTypeOf<CheckBody<Result<number, SetupError>>>().toEqualTypeOf<unknown>();
    expectTypeOf<CheckBody<ResultAsync<number, SetupError>>>().toEqualTypeOf<unknown>();
    expectTypeOf<CheckBody<Promise<Result<number, SetupError>>>>().toEqualTypeOf<unknown>();
    expectTypeOf<CheckBody<Generator<Err<never, SetupError>, Result<number, never>>>>().toEqualTypeOf<unknown>();
    expectTypeOf(transaction(() => ok(undefined))).toEqualTypeOf<ResultAsync<undefined, TransactionError<never>>>();
    expectTypeOf(transaction(async () => (flag ? ok(1) : err("no" as const)))).toEqualTypeOf<
      ResultAsync<number, TransactionError<"no">>
    >();
    expectTypeOf(
      transaction((tx) => {
        tx.defer(() => undefined);
        if (flag) return parse("1");
        return okAsync(2);
      }),
    ).toEqualTypeOf<ResultAsync<number, TransactionError<SetupError>>>();
    expectTypeOf(
      transaction((): never => {
        throw new Error("always");
      }),
    ).toEqualTypeOf<ResultAsync<never, TransactionError<never>>>();
  });

  it("rejects bodies that do not produce a Result", () => {
    // @ts-expect-error a body must return a Result, a ResultAsync or a Promise of one
    void transaction(() => 42);
    // @ts-expect-error an async body must resolve to a Result
    void transaction(async () => "done");
    // @ts-expect-error a generator body may only yield errs
    void transaction(function* () {
      yield 5;
      return ok(1);
    });
  });

  it("rejects bad cleanup options and returns", () => {
    void transaction((tx) => {
      // @ts-expect-error unknown `on`
      tx.defer(() => undefined, { on: "sometimes" });
      // @ts-expect-error errdefer has no `on`
      tx.errdefer(() => undefined, { on: "success" });
      // @ts-expect-error timeoutMs is a number of ms
      tx.defer(() => undefined, { timeoutMs: "1s" });
      // @ts-expect-error a cleanup is a function
      tx.defer("rm -rf /tmp/x");
      // @ts-expect-error the context has no `cancel`
      tx.defer((ctx) => ctx.cancel());
      return ok(1);
    });
  });

  it("rejects a registerFirst release that does not accept undefined", () => {
    void transaction((tx) => {
      // @ts-expect-error with registerFirst the release must accept undefined
      void tx.acquire(
        () => connect(),
        (c: Conn) => void c.id,
        { registerFirst: true },
      );
      return ok(1);
    });
  });

  it("rejects options of the wrong shape", () => {
    // @ts-expect-error cleanupTimeoutMs is a number
    void transaction(() => ok(1), { cleanupTimeoutMs: "60s" });
    // @ts-expect-error signal is an AbortSignal
    void transaction(() => ok(1), { signal: true });
  });

  it("rejects Go's nil as an error value: clearing is clearRetErr()", () => {
    void transaction((tx) => {
      tx.defer((ctx) => {
        // @ts-expect-error setRetErr(undefined) would be an Err with no cause
        ctx.setRetErr(undefined);
        // @ts-expect-error null neither
        ctx.setRetErr(null);
        ctx.clearRetErr();
        // @ts-expect-error clearRetErr takes no value
        ctx.clearRetErr(new Error("x"));
      });
      // @ts-expect-error a noted failure has a value
      tx.noteCleanupFailure(undefined);
      // @ts-expect-error the label is a string
      tx.noteCleanupFailure(new Error("x"), 1);
      return ok(1);
    });
  });
});

describe("the named return (R5) and noted failures (R4)", () => {
  it("accepts any error value that may be defined, and destructuring", () => {
    void transaction((tx) => {
      tx.defer(({ setRetErr, clearRetErr, retErr }) => {
        try {
          JSON.parse("{");
        } catch (e) {
          setRetErr(e); // unknown: checked at run time
        }
        setRetErr(retErr as Error | undefined);
        setRetErr("string reason");
        clearRetErr();
      });
      tx.noteCleanupFailure(new ConnectError("x"), "connect");
      const caught: unknown = new Error("x");
      tx.noteCleanupFailure(caught);
      expectTypeOf<ReturnType<CleanupContext["clearRetErr"]>>().toEqualTypeOf<void>();
      return ok(1);
    });
  });
});
