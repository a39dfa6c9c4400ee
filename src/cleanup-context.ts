// What a cleanup sees at its turn: the unwind's live retErr, the failures so far, its own signal.
import type { CauseOrigin } from "./errors.js";
import { CleanupSignal } from "./deadline.js";
import type { CleanupContext, CleanupFailure, Retained } from "./types.js";

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
}

export class CleanupScope implements CleanupContext {
  readonly #state: UnwindState;
  readonly deadline = new CleanupSignal();

  constructor(
    state: UnwindState,
    readonly label: string,
  ) {
    this.#state = state;
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

  // An arrow so that `({ setRetErr }) => ...` destructuring works like the other fields.
  readonly setRetErr = (error: unknown): void => {
    this.#state.set(error, "set");
  };
}
