// What a cleanup sees at its turn: the unwind's live retErr, the failures so far, its own signal.
import { describeError, type CauseOrigin, type CleanupFailure, type Retained } from "./errors.js";
import { CleanupSignal } from "./deadline.js";
import type { CleanupContext } from "./types.js";

/** The unwind's shared state: Go's `retErr` plus the record of what happened. */
export class UnwindState {
  readonly failures: CleanupFailure[] = [];
  readonly retained: Retained[] = [];

  constructor(
    public failed: boolean,
    public retErr: unknown,
    public origin: CauseOrigin | undefined,
  ) {}

  /** R4: a failure is recorded in order; it becomes retErr only if none is set. */
  recordFailure(label: string, error: unknown): void {
    this.failures.push({ label, error });
    if (!this.failed) this.set(error, "cleanup");
  }

  set(error: unknown, origin: CauseOrigin): void {
    this.failed = true;
    this.retErr = error;
    this.origin = origin;
  }

  /** R5: Go's `retErr = nil`, refused once a failure is recorded (it must reach the Err). */
  clear(): void {
    const first = this.failures[0];
    if (first !== undefined) {
      throw new TypeError(
        `ctx.clearRetErr: cannot clear after a cleanup failure (cleanup "${first.label}" failed: ` +
          `${describeError(first.error)}); every failure is reported (R4, R5): ` +
          `handle an expected failure inside the cleanup that fails`,
      );
    }
    this.failed = false;
    this.retErr = undefined;
    this.origin = undefined;
  }
}

/** A nullish error would make an Err with no cause; Go's `retErr = nil` is `clearRetErr()` (R5). */
export function checkErrorValue(where: string, error: unknown, hint: string): void {
  if (error === undefined || error === null) {
    throw new TypeError(`${where}: the error must not be ${String(error)} (Go's nil); ${hint}`);
  }
}

export class CleanupScope implements CleanupContext {
  readonly #state: UnwindState;
  #deadline: CleanupSignal | undefined;
  #setRetErr: ((error: unknown) => void) | undefined;
  #clearRetErr: (() => void) | undefined;

  constructor(
    state: UnwindState,
    readonly label: string,
  ) {
    this.#state = state;
  }

  /** The cleanup's own signal holder, made on first use (most cleanups never ask). */
  get deadline(): CleanupSignal {
    return (this.#deadline ??= new CleanupSignal());
  }

  get retErr(): unknown {
    return this.#state.failed ? this.#state.retErr : undefined;
  }

  get failed(): boolean {
    return this.#state.failed;
  }

  get signal(): AbortSignal {
    return this.deadline.signal;
  }

  get cleanupFailures(): readonly CleanupFailure[] {
    return this.#state.failures;
  }

  // A function made on first read, so that `({ setRetErr }) => ...` destructuring works.
  get setRetErr(): (error: unknown) => void {
    const state = this.#state;
    return (this.#setRetErr ??= (error: unknown) => {
      checkErrorValue("ctx.setRetErr", error, "use ctx.clearRetErr() to clear retErr");
      state.set(error, "set");
    });
  }

  get clearRetErr(): () => void {
    const state = this.#state;
    return (this.#clearRetErr ??= () => state.clear());
  }
}
