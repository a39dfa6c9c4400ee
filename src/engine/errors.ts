// The engine's error classes, their guards, and the two records a failed transaction carries.
// A leaf of the engine: every other engine module may import it, it imports none of them.
import { brand } from "../internal/brand.js";

const transactionErrorBrand = brand("TransactionError");
const timeoutBrand = brand("CleanupTimeoutError");
const closedBrand = brand("TransactionClosedError");

/** One failed cleanup, in the order the failures happened (R4). */
export interface CleanupFailure {
  readonly label: string;
  /** The very value the cleanup threw, rejected with or carried in its err (or a CleanupTimeoutError). */
  readonly error: unknown;
}

/** One guarded cleanup that was skipped because an earlier cleanup failed (R3). */
export interface Retained {
  readonly label: string;
}

/** Where a TransactionError's primary cause came from. */
export type CauseOrigin =
  /** The body returned (or a generator body yielded) `err(cause)`. */
  | "err"
  /** The body threw or rejected with `cause` (or the caller's signal was already aborted). */
  | "throw"
  /** The body succeeded and the first failing cleanup failed with `cause` (R4). */
  | "cleanup"
  /** A cleanup called `setRetErr(cause)` (R5). */
  | "set";

/** A short, single-line description of any thrown or carried value. */
export function describeError(value: unknown): string {
  if (value instanceof Error) return value.message === "" ? value.name : value.message;
  if (typeof value === "string") return value;
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // Cyclic or BigInt-holding values: fall through to String().
  }
  return String(value);
}

function transactionMessage(
  cause: unknown,
  origin: CauseOrigin,
  failures: readonly CleanupFailure[],
  retained: readonly Retained[],
): string {
  const parts = failures.map((f) => `cleanup "${f.label}" failed: ${describeError(f.error)}`);
  // The message starts with the cause (R7). When the body succeeded, the cause is the first cleanup
  // failure: said once, with its label.
  const first = failures[0];
  if (origin === "cleanup" && first !== undefined && first.error === cause)
    parts[0] = `${describeError(cause)} (in cleanup "${first.label}")`;
  else parts.unshift(describeError(cause));
  for (const r of retained) parts.push(`cleanup "${r.label}" retained`);
  return parts.join("; ");
}

// When the cause has no frames of its own: enough for the engine's two or three frames and the
// caller's above them.
const STACK_FRAMES = 6;

/** The err side of a transaction (R7): the primary cause on top, every cleanup failure kept. */
export class TransactionError<E = unknown> extends Error {
  override readonly name = "TransactionError";
  readonly code = "transaction-failed";
  /** The primary cause: the very value the body returned in `err(...)` or threw, or as `origin` says. */
  declare readonly cause: unknown;
  readonly origin: CauseOrigin;
  /** The value the body returned in `err(...)`, when it did (even if a cleanup replaced retErr later). */
  readonly bodyError: E | undefined;
  /** Every cleanup that failed, in the order the failures happened (R4). */
  readonly cleanupFailures: readonly CleanupFailure[];
  /** Every guarded cleanup skipped because an earlier one failed: its resource is still held (R3). */
  readonly retained: readonly Retained[];
  constructor(init: {
    readonly cause: unknown;
    readonly origin: CauseOrigin;
    readonly bodyError?: E | undefined;
    readonly cleanupFailures?: readonly CleanupFailure[];
    readonly retained?: readonly Retained[];
  }) {
    const failures = init.cleanupFailures ?? [];
    const retained = init.retained ?? [];
    // A real stack, cheaply (error trackers group by its top frames). A cause that is an Error
    // already holds the frames that matter, where the failure came from: the stack is composed
    // from them when it is read (the getter below), so nothing is captured here. Otherwise a few
    // frames are captured: where the unwind ended, and the code that ran the transaction.
    const borrow = init.cause instanceof Error;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = borrow ? 0 : Math.min(limit, STACK_FRAMES);
    super(transactionMessage(init.cause, init.origin, failures, retained), { cause: init.cause });
    Error.stackTraceLimit = limit;
    // The own `stack` the Error constructor made would hide the getter.
    if (borrow) delete (this as { stack?: string }).stack;
    transactionErrorBrand.mark(this);
    this.origin = init.origin;
    this.bodyError = init.bodyError;
    this.cleanupFailures = failures;
    this.retained = retained;
  }

  /**
   * `"TransactionError: <message>"`, then the frames of the cause when it is an Error (where the
   * failure came from), or else the few frames captured where the transaction ended.
   */
  override get stack(): string {
    const causeStack = (this.cause as Error).stack;
    const at = typeof causeStack === "string" ? causeStack.indexOf("\n    at ") : -1;
    return `${this.name}: ${this.message}${at === -1 ? "" : causeStack!.slice(at)}`;
  }

  override set stack(value: string) {
    Object.defineProperty(this, "stack", { value, writable: true, configurable: true });
  }

  /** Narrows `cause` to the body's error type when the body's own err is the primary cause. */
  isBodyError(): this is TransactionError<E> & { readonly cause: E; readonly origin: "err" } {
    return this.origin === "err";
  }
}

/** A cleanup that had not settled at its deadline (R6). */
export class CleanupTimeoutError extends Error {
  override readonly name = "CleanupTimeoutError";
  readonly code = "cleanup-timeout";
  readonly label: string;
  readonly timeoutMs: number;

  constructor(label: string, timeoutMs: number) {
    super(`cleanup "${label}" did not finish within ${timeoutMs} ms`);
    this.label = label;
    this.timeoutMs = timeoutMs;
    timeoutBrand.mark(this);
  }
}

/** Registering on, acquiring through, or noting a failure on a transaction whose body has ended (R9). */
export class TransactionClosedError extends Error {
  override readonly name = "TransactionClosedError";
  readonly code = "transaction-closed";
  readonly label: string;

  constructor(label: string, what: "register" | "acquire" | "note") {
    super(
      what === "register"
        ? `transaction is closed: cannot register cleanup "${label}" after the body ended`
        : what === "acquire"
          ? `transaction is closed: "${label}" was acquired after the body ended and has been released`
          : `transaction is closed: cannot note cleanup failure "${label}" after the body ended ` +
            `(a cleanup fails by throwing or returning an err)`,
    );
    this.label = label;
    closedBrand.mark(this);
  }
}

/** Whether `value` is a TransactionError (from any copy of errdefer). */
export function isTransactionError(value: unknown): value is TransactionError {
  return transactionErrorBrand.is(value);
}

/** Whether `value` is a CleanupTimeoutError. */
export function isCleanupTimeoutError(value: unknown): value is CleanupTimeoutError {
  return timeoutBrand.is(value);
}

/** Whether `value` is a TransactionClosedError. */
export function isTransactionClosedError(value: unknown): value is TransactionClosedError {
  return closedBrand.is(value);
}
