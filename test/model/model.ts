// A reference model of the unwind, written from the rules R1-R10 of semantics.md alone: given a
// program (how the body ends, which failures it notes, which cleanups it registers), it computes
// what must run, in which order and at which fake time, what is retained and what the transaction
// must return.

/** How the body is written (R10 for the generator forms). */
export type BodyForm = "sync" | "async" | "promise" | "resultAsync" | "generator" | "asyncGenerator";

/** How the body ends: returns ok, returns err, throws / rejects, or yields an err (generators only). */
export type BodyEnd = "ok" | "err" | "throw" | "yieldErr";

/** How a cleanup is registered. `acquire*` only in bodies that can await (async, asyncGenerator). */
export type Via = "defer" | "errdefer" | "acquire" | "acquireFirst";

/** The shape of an error value; values are created fresh at each run so identity can be checked. */
export type ValueShape = "error" | "string" | "object" | "undefined" | "null";

/** What a cleanup does when it runs. */
export type Behaviour =
  | { readonly kind: "void" }
  | { readonly kind: "promise" }
  | { readonly kind: "ok" }
  | { readonly kind: "okAsync" }
  /** Settles successfully after `fraction` of its deadline (strictly before it). */
  | { readonly kind: "slow"; readonly fraction: number }
  | { readonly kind: "throw"; readonly shape: ValueShape }
  | { readonly kind: "reject"; readonly shape: ValueShape }
  | { readonly kind: "err"; readonly shape: ValueShape }
  | { readonly kind: "errAsync"; readonly shape: ValueShape }
  /** Returns a ResultAsync that becomes err after `fraction` of its deadline. */
  | { readonly kind: "slowErr"; readonly shape: ValueShape; readonly fraction: number }
  /** Sets retErr to a value that is not nullish. */
  | { readonly kind: "setRetErr"; readonly shape: ValueShape }
  /** Sets retErr, then throws: the failure is recorded but does not replace retErr (R4, R5). */
  | { readonly kind: "setRetErrThenThrow"; readonly shape: ValueShape; readonly shape2: ValueShape }
  /** `setRetErr(undefined | null)`: refused, the cleanup fails with the engine's TypeError (R5). */
  | { readonly kind: "setRetErrNil"; readonly shape: "undefined" | "null" }
  /** Go's `retErr = nil`: unsets retErr, or, once a failure is recorded, fails with a TypeError (R5). */
  | { readonly kind: "clearRetErr" }
  /** Never settles before its deadline; afterwards never, or resolves / rejects `lateMs` later. */
  | { readonly kind: "hang"; readonly late: "never" | "resolve" | "reject"; readonly lateMs: number }
  /** Aborts the caller's signal, then succeeds (R6: later cleanups keep a live signal). */
  | { readonly kind: "abortCaller" };

export type CleanupKindSpec = "always" | "error" | "success";

export interface CleanupSpec {
  readonly kind: CleanupKindSpec;
  readonly via: Via;
  /** Pass `on` explicitly even when it is the default. */
  readonly explicitOn: boolean;
  readonly guard: boolean;
  /** Dismissed by the body right after registering (R8); never for `acquire*`. */
  readonly dismissed: boolean;
  /** Give a label; otherwise the default `cleanup-<n>` is expected. */
  readonly labelled: boolean;
  /** Per-cleanup deadline, or the transaction's. */
  readonly timeoutMs: number | undefined;
  readonly behaviour: Behaviour;
}

export interface Program {
  readonly form: BodyForm;
  readonly end: BodyEnd;
  readonly bodyErrorShape: ValueShape;
  /** Cleanup failures the body notes (`tx.noteCleanupFailure`), labelled `noted-<k>` from 1 (R4). */
  readonly noted?: readonly ValueShape[];
  /** The transaction's `cleanupTimeoutMs`, or the default. */
  readonly cleanupTimeoutMs: number | undefined;
  readonly cleanups: readonly CleanupSpec[];
}

export const DEFAULT_CLEANUP_TIMEOUT_MS = 60_000;

/** Where an error value the model speaks of comes from (the test maps this to the real value). */
export type ValueRef =
  | { readonly from: "body" }
  /** The value cleanup `index` failed with (for a timeout: its CleanupTimeoutError). */
  | { readonly from: "failure"; readonly index: number }
  /** The value cleanup `index` passed to setRetErr. */
  | { readonly from: "set"; readonly index: number }
  /** The value the body noted `index`-th (from 1). */
  | { readonly from: "noted"; readonly index: number };

export type Origin = "err" | "throw" | "cleanup" | "set";

/** What one cleanup must see at its turn. */
export interface ModelTurn {
  readonly index: number;
  readonly label: string;
  /** Fake milliseconds after the unwind started. */
  readonly startsAt: number;
  readonly retErr: ValueRef | undefined;
  readonly failed: boolean;
  readonly failuresSoFar: readonly string[];
  /** Whether it fails by passing its deadline (its signal aborts at `startsAt + timeoutMs`). */
  readonly timesOut: boolean;
  readonly timeoutMs: number;
}

export interface ModelOutcome {
  /** Cleanups that ran, in order. */
  readonly turns: readonly ModelTurn[];
  readonly retained: readonly { readonly index: number; readonly label: string }[];
  readonly skippedByKind: readonly number[];
  readonly dismissed: readonly number[];
  /** In order; `index` 0 for the failures the body noted. */
  readonly failures: readonly { readonly index: number; readonly label: string; readonly error: ValueRef }[];
  /** Ok: `value` says whether it carries the body's value or, after a cleared failure, undefined. */
  readonly result:
    | { readonly ok: true; readonly value: "body" | "undefined" }
    | { readonly ok: false; readonly cause: ValueRef; readonly origin: Origin };
  /** Fake milliseconds the unwind takes. */
  readonly durationMs: number;
}

/** Whether the cleanup fails with an error the engine made (a CleanupTimeoutError or a TypeError). */
export function engineMadeFailure(b: Behaviour): "timeout" | "refused" | undefined {
  if (b.kind === "hang") return "timeout";
  return b.kind === "setRetErrNil" || b.kind === "clearRetErr" ? "refused" : undefined;
}

export function notedLabel(k: number): string {
  return `noted-${k}`;
}

export function labelOf(spec: CleanupSpec, index: number): string {
  return spec.labelled ? `L${index}-${spec.kind}` : `cleanup-${index}`;
}

export function timeoutOf(program: Program, spec: CleanupSpec): number {
  return spec.timeoutMs ?? program.cleanupTimeoutMs ?? DEFAULT_CLEANUP_TIMEOUT_MS;
}

/** The delay of a `slow` / `slowErr` cleanup: at least 1 ms, strictly before its deadline. */
export function slowDelay(timeoutMs: number, fraction: number): number {
  return Math.min(timeoutMs - 1, Math.max(1, Math.floor(fraction * timeoutMs)));
}

/** Whether a behaviour makes its cleanup fail (R4, R5, R6), given the failures recorded so far. */
function failureOf(b: Behaviour, failuresSoFar: number): boolean {
  switch (b.kind) {
    case "clearRetErr":
      return failuresSoFar > 0;
    case "setRetErrNil":
    case "throw":
    case "reject":
    case "err":
    case "errAsync":
    case "slowErr":
    case "setRetErrThenThrow":
    case "hang":
      return true;
    default:
      return false;
  }
}

function durationOf(b: Behaviour, timeoutMs: number): number {
  switch (b.kind) {
    case "hang":
      return timeoutMs;
    case "slow":
    case "slowErr":
      return slowDelay(timeoutMs, b.fraction);
    default:
      return 0;
  }
}

/**
 * R11 (sagas): a saga whose steps all succeeded unwinds as if its on-error cleanups had been
 * registered first and its on-always ones after them (each group in step order). By R1 every
 * on-always cleanup then runs before any on-error one, and by R2 the on-error ones run only if an
 * on-always one failed or set retErr: the run either hands over everything or rolls everything
 * back. (A saga that fails at a step unwinds in plain step order.)
 */
export function handOverOrder<T extends { readonly kind: CleanupKindSpec }>(cleanups: readonly T[]): T[] {
  return [...cleanups.filter((c) => c.kind === "error"), ...cleanups.filter((c) => c.kind !== "error")];
}

/** Runs the rules over a program. */
export function runModel(program: Program): ModelOutcome {
  const bodyFailed = program.end !== "ok";
  let retErr: ValueRef | undefined = bodyFailed ? { from: "body" } : undefined;
  let origin: Origin | undefined = program.end === "throw" ? "throw" : bodyFailed ? "err" : undefined;
  const turns: ModelTurn[] = [];
  const retained: { index: number; label: string }[] = [];
  const skippedByKind: number[] = [];
  const dismissed: number[] = [];
  const failures: { index: number; label: string; error: ValueRef }[] = [];
  let clock = 0;
  // R4: what the body noted failed first, before the unwind; it is retErr if the body succeeded.
  (program.noted ?? []).forEach((_, k) => {
    const error: ValueRef = { from: "noted", index: k + 1 };
    failures.push({ index: 0, label: notedLabel(k + 1), error });
    if (retErr === undefined) {
      retErr = error;
      origin = "cleanup";
    }
  });

  // R1: after the body, LIFO, each at most once.
  for (let i = program.cleanups.length; i >= 1; i--) {
    const spec = program.cleanups[i - 1]!;
    const label = labelOf(spec, i);
    // R8: a dismissed cleanup is gone before the unwind.
    if (spec.dismissed) {
      dismissed.push(i);
      continue;
    }
    // R2: retErr is read at this cleanup's turn.
    const failing = retErr !== undefined;
    const runs = spec.kind === "always" || (spec.kind === "error") === failing;
    if (!runs) {
      skippedByKind.push(i);
      continue;
    }
    // R3: a guarded cleanup is skipped and retained once any earlier cleanup of this unwind failed.
    if (spec.guard && failures.length > 0) {
      retained.push({ index: i, label });
      continue;
    }
    const timeoutMs = timeoutOf(program, spec);
    const b = spec.behaviour;
    turns.push({
      index: i,
      label,
      startsAt: clock,
      retErr,
      failed: failing,
      failuresSoFar: failures.map((f) => f.label),
      timesOut: b.kind === "hang",
      timeoutMs,
    });
    clock += durationOf(b, timeoutMs);
    // R5: setting retErr replaces it and is not a failure.
    if (b.kind === "setRetErr" || b.kind === "setRetErrThenThrow") {
      retErr = { from: "set", index: i };
      origin = "set";
    }
    // R5: clearing unsets retErr, unless a failure is recorded (then it fails, below).
    if (b.kind === "clearRetErr" && failures.length === 0) {
      retErr = undefined;
      origin = undefined;
    }
    // R4: a failure is recorded, never stops the unwind, and only sets an unset retErr.
    if (failureOf(b, failures.length)) {
      failures.push({ index: i, label, error: { from: "failure", index: i } });
      if (retErr === undefined) {
        retErr = { from: "failure", index: i };
        origin = "cleanup";
      }
    }
  }

  // R7: ok iff retErr is unset at the end; the primary cause on top. R5: a body that failed has
  // no value, so a cleared failure returns undefined.
  const result =
    retErr === undefined || origin === undefined
      ? ({ ok: true, value: bodyFailed ? "undefined" : "body" } as const)
      : ({ ok: false, cause: retErr, origin } as const);
  return { turns, retained, skippedByKind, dismissed, failures, result, durationMs: clock };
}
