// The public shapes of the engine: what a body, a cleanup and an observer see.
import type { Err, Result, ResultAsync } from "neverthrow";
import type { CleanupFailure, Retained, TransactionClosedError } from "./errors.js";

/** When a cleanup runs at its turn in the unwind (R2). */
export type CleanupKind = "always" | "error" | "success";

/** What a cleanup may return: nothing, a Promise, a Result or a ResultAsync (an err is a failure). */
export type CleanupReturn =
  void | undefined | PromiseLike<unknown> | Result<unknown, unknown> | ResultAsync<unknown, unknown>;

/** `E`, unless it can only be `undefined` or `null`: Go's nil is not an error value (R5). */
export type NotNullish<E> = [E] extends [null | undefined] ? never : E;

/** What a cleanup sees at its turn. */
export interface CleanupContext {
  /** The transaction's current error (Go's named `retErr`); `undefined` while `failed` is false. */
  readonly retErr: unknown;
  /** Whether retErr is set (the transaction is failing) at this cleanup's turn. */
  readonly failed: boolean;
  /**
   * Replaces retErr (R5); this is not a cleanup failure. `undefined` and `null` are refused (a
   * type error, and a TypeError at run time): to clear retErr, call `clearRetErr()`.
   */
  setRetErr<E>(this: void, error: NotNullish<E>): void;
  /**
   * Unsets retErr (R5, Go's `retErr = nil`): later cleanups see `failed === false`, and the
   * transaction returns Ok unless something sets retErr again. Throws a TypeError once a cleanup
   * failure has been recorded in this transaction: a failure is always reported (R4).
   */
  clearRetErr(this: void): void;
  /** This cleanup's own signal: aborted at its deadline, never by the caller's signal (R6). */
  readonly signal: AbortSignal;
  /** The cleanup's label. */
  readonly label: string;
  /** The cleanup failures recorded so far in this unwind, in order. */
  readonly cleanupFailures: readonly CleanupFailure[];
}

/** A cleanup function. */
export type Cleanup = (ctx: CleanupContext) => CleanupReturn;

/** Options of `tx.defer` / `tx.errdefer`. */
export interface CleanupOptions {
  /** `"always"` (Go defer, the default), `"error"` (errdefer) or `"success"`. */
  readonly on?: CleanupKind;
  /** Skip (and retain) this cleanup if any cleanup before it in this unwind failed (R3). */
  readonly guard?: boolean;
  /** Names the cleanup in errors, reports and events. Default `cleanup-<n>`. */
  readonly label?: string;
  /** This cleanup's deadline in ms (R6); default: the transaction's `cleanupTimeoutMs`. */
  readonly timeoutMs?: number;
  /**
   * The cleanups, registered earlier in this transaction, whose resources this one's was built on
   * (R12): each of them starts only once this one has ended, and a guarded one among them is
   * retained if this one failed or was retained. Default: the cleanup registered just before this
   * one (a chain: plain LIFO, R1). `[]`: none, so it may run at once with the others.
   */
  readonly dependsOn?: readonly CleanupHandle[];
}

/** Returned by registration: `dismiss()` removes the cleanup before the unwind (R8). */
export interface CleanupHandle {
  readonly label: string;
  /** Removes the cleanup (ownership passed elsewhere). Returns false if it had already run or been dismissed. */
  dismiss(): boolean;
}

/** Options of `tx.acquire`. */
export interface AcquireOptions extends CleanupOptions {
  /**
   * Register the release before acquiring, for steps that can half-succeed and still fail
   * (CNI ADD): the release then runs even if the acquisition failed, with `undefined` as the
   * resource.
   */
  readonly registerFirst?: boolean;
}

/** The resource an acquire function produces, unwrapping a Promise, Result or ResultAsync. */
export type AcquiredOf<A> = Awaited<A> extends infer X ? (X extends Result<infer T, unknown> ? T : X) : never;

/** The error an acquire function can produce: its err type, or `unknown` when it only throws. */
export type AcquireErrorOf<A> =
  Awaited<A> extends infer X
    ? [X] extends [Result<unknown, unknown>]
      ? X extends Result<unknown, infer E>
        ? E
        : never
      : unknown
    : never;

/** The handle a body receives. */
export interface Transaction {
  /** The caller's signal (never aborted when the caller gave none). Pass it to the body's steps. */
  readonly signal: AbortSignal;
  /** False while the body runs; true once it has ended (registering is then an error, R9). */
  readonly closed: boolean;
  /** Registers a cleanup (Go `defer`); `opts.on` chooses always / error / success. */
  defer(fn: Cleanup, opts?: CleanupOptions): CleanupHandle;
  /** Registers a cleanup that runs only if the transaction is failing at its turn. */
  errdefer(fn: Cleanup, opts?: Omit<CleanupOptions, "on">): CleanupHandle;
  /**
   * Records a cleanup failure the body observed (containerd's `cleanupErr = ...` in the body),
   * exactly as if a cleanup had failed first in the unwind (R4): guarded cleanups are retained
   * (R3), it is listed first in `cleanupFailures`, and it becomes the cause if the body succeeds.
   * `label` defaults to `"body"`. Only while the body runs (R9).
   */
  noteCleanupFailure<E>(error: NotNullish<E>, label?: string): void;
  /**
   * Registers `resource[Symbol.asyncDispose]()` (or, without one, `resource[Symbol.dispose]()`)
   * as a cleanup with `opts` (default `on: "always"`, as `tx.defer`), and returns the resource:
   * `AsyncDisposableStack.prototype.use` under this transaction's rules. `null` and `undefined`
   * are returned with nothing registered; anything else without a dispose method is a TypeError.
   * The dispose method takes no signal: at its deadline the transaction stops waiting for it.
   */
  use<T extends AsyncDisposable | Disposable | null | undefined>(resource: T, opts?: CleanupOptions): T;
  /**
   * Acquires a resource and registers its release with no gap between the two. The acquisition's
   * failure (an err or a throw) is returned as an err. A resource acquired after the body ended
   * is released at once and an err(TransactionClosedError) is returned (R9).
   *
   * The resource's type comes from what `acquireFn` returns (a Promise, Result or ResultAsync
   * unwrapped); `releaseFn`'s parameter is checked against it.
   */
  // `A = never`: TypeScript first checks a release that is not context-sensitive (a named
  // function) before it has looked at a context-sensitive acquireFn (`(signal) => open(signal)`).
  // With no default, A is `unknown` at that point and a release taking a `Handle` is refused;
  // with `never`, that early check passes and A is then inferred from acquireFn alone.
  acquire<A = never>(
    acquireFn: (signal: AbortSignal) => A,
    releaseFn: (resource: AcquiredOf<A>, ctx: CleanupContext) => CleanupReturn,
    opts?: AcquireOptions & { readonly registerFirst?: false },
  ): ResultAsync<AcquiredOf<A>, AcquireErrorOf<A> | TransactionClosedError>;
  /**
   * With `registerFirst`, the release is registered before acquiring: it receives `undefined` if
   * the acquisition failed, and if its turn comes while the acquisition is still in flight, it
   * waits for it (within its own deadline) and releases what arrives.
   */
  acquire<A = never>(
    acquireFn: (signal: AbortSignal) => A,
    releaseFn: (resource: AcquiredOf<A> | undefined, ctx: CleanupContext) => CleanupReturn,
    opts: AcquireOptions & { readonly registerFirst: true },
  ): ResultAsync<AcquiredOf<A>, AcquireErrorOf<A> | TransactionClosedError>;
}

/** Events, published to `onEvent` and to `node:diagnostics_channel` (see events.ts). */
export type TransactionEvent =
  | { readonly type: "transaction:started"; readonly transactionId: number; readonly name: string }
  | {
      readonly type: "transaction:finished";
      readonly transactionId: number;
      readonly name: string;
      readonly ok: boolean;
      readonly durationMs: number;
      readonly cleanupFailures: readonly CleanupFailure[];
      readonly retained: readonly Retained[];
    }
  | {
      readonly type: "cleanup:registered";
      readonly transactionId: number;
      readonly label: string;
      readonly on: CleanupKind;
      readonly guard: boolean;
    }
  | { readonly type: "cleanup:started"; readonly transactionId: number; readonly label: string }
  | {
      readonly type: "cleanup:succeeded";
      readonly transactionId: number;
      readonly label: string;
      readonly durationMs: number;
    }
  | {
      readonly type: "cleanup:failed";
      readonly transactionId: number;
      readonly label: string;
      readonly durationMs: number;
      readonly error: unknown;
    }
  | {
      readonly type: "cleanup:skipped";
      readonly transactionId: number;
      readonly label: string;
      /** `"kind"`: R2 said no; `"dismissed"`: R8. */
      readonly reason: "kind" | "dismissed";
    }
  | { readonly type: "cleanup:retained"; readonly transactionId: number; readonly label: string };

/** Options of `transaction`. */
export interface TransactionOptions {
  /** The caller's signal, exposed as `tx.signal`. It never reaches cleanups (R6). */
  readonly signal?: AbortSignal;
  /** Default deadline of each cleanup, in ms. Default 60 000 (containerd's DeferContext). */
  readonly cleanupTimeoutMs?: number;
  /** Names the transaction in events. */
  readonly name?: string;
  /** Receives every event of this transaction, synchronously. A throwing observer is ignored. */
  readonly onEvent?: (event: TransactionEvent) => void;
  /** How many cleanups may run at once when some name their `dependsOn` (R12). Default: unbounded. */
  readonly concurrency?: number;
}

/** Every form a body may take (R10 for the generator forms). */
export type Body<T, E> =
  | ((tx: Transaction) => Result<T, E> | ResultAsync<T, E> | PromiseLike<Result<T, E>>)
  | ((tx: Transaction) => Generator<Err<never, E>, Result<T, E>>)
  | ((tx: Transaction) => AsyncGenerator<Err<never, E>, Result<T, E>>);

/** What a body returns in any of its forms (R10 for the generator forms). */
export type BodyReturn =
  | Result<unknown, unknown>
  | ResultAsync<unknown, unknown>
  | PromiseLike<Result<unknown, unknown>>
  | Generator<Err<never, unknown>, Result<unknown, unknown>>
  | AsyncGenerator<Err<never, unknown>, Result<unknown, unknown>>;

/** The success type of a Result or ResultAsync `R` (what a body's ok carries). */
export type OkOf<R> = R extends Result<infer T, unknown> ? T : never;
/** The error type of a Result or ResultAsync `R` (what a body's err carries). */
export type ErrOf<R> = R extends Result<unknown, infer E> ? E : never;

/** The ok type of a body that returns `R`. */
export type BodyOk<R> =
  R extends Generator<unknown, infer Ret>
    ? OkOf<Ret>
    : R extends AsyncGenerator<unknown, infer Ret>
      ? OkOf<Ret>
      : OkOf<Awaited<R>>;

/** The error type of a body that returns `R`: its err, and what a generator body yields. */
export type BodyErr<R> =
  R extends Generator<infer Y, infer Ret>
    ? ErrOf<Y> | ErrOf<Ret>
    : R extends AsyncGenerator<infer Y, infer Ret>
      ? ErrOf<Y> | ErrOf<Ret>
      : ErrOf<Awaited<R>>;

/**
 * The type error of a body that does not return a Result: its only property names the fix. It
 * stands where the body's return type is expected, so the compiler's message quotes it.
 */
export interface BodyTypeError<Message extends string> {
  readonly "errdefer: wrong body": Message;
}

/** `unknown` for a body return `R` that is valid; otherwise the BodyTypeError that says why. */
export type CheckBody<R> = [R] extends [BodyReturn]
  ? unknown
  : BodyTypeError<
      [R] extends [Generator<unknown, unknown> | AsyncGenerator<unknown, unknown>]
        ? "a generator body may only yield err Results (use yield* on a Result) and must return a Result"
        : [R] extends [void | undefined]
          ? "the body must return a Result: return ok(value), or ok(undefined) when there is none"
          : [R] extends [PromiseLike<void | undefined>]
            ? "an async body must resolve to a Result: return ok(value), or ok(undefined) when there is none"
            : [R] extends [PromiseLike<unknown>]
              ? "an async body must resolve to a Result: wrap the value in ok(...)"
              : "the body must return a Result: wrap the value in ok(...)"
    >;
