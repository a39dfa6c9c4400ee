// R6: a cleanup's own signal, created only when the cleanup asks for it, and a deadline timer
// armed only while the cleanup is still pending after its synchronous part.
import { CleanupTimeoutError } from "./errors.js";

// setTimeout treats anything above 2^31-1 ms as 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A cleanup's AbortSignal, detached from the caller's: only its own deadline aborts it. */
export class CleanupSignal {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/** How a cleanup ended: `undefined` for success, or the failure. */
export type Settled = undefined | { readonly error: unknown };

/** Whether a value is a neverthrow Result (duck-typed, so any copy of neverthrow works). */
export function isResult(value: unknown): value is { isErr(): boolean; readonly error?: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { isErr?: unknown }).isErr === "function" &&
    typeof (value as { isOk?: unknown }).isOk === "function" &&
    typeof (value as { then?: unknown }).then !== "function"
  );
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** Maps a cleanup's settled value: an err Result is a failure, anything else is success. */
export function settledFromValue(value: unknown): Settled {
  return isResult(value) && value.isErr() ? { error: value.error } : undefined;
}

/**
 * Waits for a pending cleanup until its deadline. At the deadline the cleanup's signal aborts and
 * it counts as failed; its late settlement is absorbed (the handlers stay attached).
 */
export function settleWithin(
  pending: PromiseLike<unknown>,
  timeoutMs: number,
  label: string,
  signal: CleanupSignal,
): Promise<Settled> {
  return new Promise<Settled>((resolve) => {
    const timer = setTimeout(
      () => {
        const error = new CleanupTimeoutError(label, timeoutMs);
        signal.abort(error);
        resolve({ error });
      },
      Math.min(timeoutMs, MAX_TIMER_MS),
    );
    try {
      pending.then(
        (value) => {
          clearTimeout(timer);
          resolve(settledFromValue(value));
        },
        (error: unknown) => {
          clearTimeout(timer);
          resolve({ error });
        },
      );
    } catch (error) {
      // A hostile thenable whose then() throws.
      clearTimeout(timer);
      resolve({ error });
    }
  });
}
