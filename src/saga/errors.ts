// SagaError: a saga's Err when more steps than the first failed before the rollback began (R13).
import { describeError, TransactionError } from "../engine/errors.js";
import { brand } from "../internal/brand.js";

const sagaErrorBrand = brand("SagaError");

/** A step that failed while another step's failure was already stopping the run. */
export interface ConcurrentStepFailure {
  readonly step: string;
  /** The very value it returned in its err, threw or rejected with. */
  readonly error: unknown;
  /** `err`: it returned an err; `throw`: it threw or rejected. */
  readonly origin: "err" | "throw";
}

/**
 * The TransactionError of a saga whose steps ran in parallel and failed more than once: the
 * primary cause (on top, as always) is the first failure in time; `concurrentFailures` keeps the
 * others that happened before the rollback began, in the order they happened.
 */
export class SagaError<E = unknown> extends TransactionError<E> {
  readonly concurrentFailures: readonly ConcurrentStepFailure[];

  constructor(base: TransactionError<E>, concurrentFailures: readonly ConcurrentStepFailure[]) {
    super({
      cause: base.cause,
      origin: base.origin,
      bodyError: base.bodyError,
      cleanupFailures: base.cleanupFailures,
      retained: base.retained,
    });
    this.concurrentFailures = concurrentFailures;
    for (const f of concurrentFailures) this.message += `; step "${f.step}" also failed: ${describeError(f.error)}`;
    sagaErrorBrand.mark(this);
  }
}

/** Whether `value` is a SagaError (from any copy of errdefer). */
export function isSagaError(value: unknown): value is SagaError {
  return sagaErrorBrand.is(value);
}

/** The failures of steps other than the primary cause's, as a saga's Err reports them (none: `[]`). */
export function concurrentFailuresOf(error: unknown): readonly ConcurrentStepFailure[] {
  return isSagaError(error) ? error.concurrentFailures : [];
}
