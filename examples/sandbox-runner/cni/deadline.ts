// The per-plugin deadline: the caller's signal and a timeout combined, remembering which fired.

export interface Deadline {
  /** Fires on the caller's abort or at the timeout. */
  readonly signal: AbortSignal | undefined;
  /** Whether the timeout (not the caller) fired. */
  timedOut(): boolean;
  dispose(): void;
}

/** Combines the caller's signal with the per-plugin deadline, remembering which one fired. */
export function deadline(signal: AbortSignal | undefined, timeoutMs: number | undefined): Deadline {
  if (timeoutMs === undefined) return { signal, timedOut: () => false, dispose: () => undefined };
  const controller = new AbortController();
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    controller.abort(new Error(`timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  const forward = () => controller.abort(signal?.reason);
  if (signal?.aborted) forward();
  else signal?.addEventListener("abort", forward, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => fired,
    dispose: () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", forward);
    },
  };
}
