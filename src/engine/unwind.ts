// The unwind loop: R1 (reverse order, once), R2 (kind), R3 (guard), R4 (failures), R8 (dismiss).
// Synchronous cleanups run without a single await; the loop only goes async at a pending cleanup.
import { CleanupScope, type UnwindState } from "./cleanup-context.js";
import type { CleanupEntry } from "./cleanup.js";
import { isThenable, settledFromValue, settleWithin, type Settled } from "./deadline.js";
import type { EventSink } from "./events.js";

export interface UnwindContext {
  readonly entries: readonly CleanupEntry[];
  readonly state: UnwindState;
  readonly defaultTimeoutMs: number;
  readonly transactionId: number;
  readonly sink: EventSink | undefined;
  /** R12: how many cleanups may run at once (undefined: unbounded). */
  readonly concurrency?: number | undefined;
}

/** Runs every registered cleanup under the rules; returns a Promise only if one was pending. */
export function unwind(u: UnwindContext): void | Promise<void> {
  return unwindFrom(u, u.entries.length - 1);
}

function unwindFrom(u: UnwindContext, from: number): void | Promise<void> {
  const { entries, state, sink, transactionId } = u;
  for (let i = from; i >= 0; i--) {
    const entry = entries[i]!;
    if (entry.state !== "pending") {
      sink?.emit({ type: "cleanup:skipped", transactionId, label: entry.label, reason: "dismissed" });
      continue;
    }
    entry.state = "ran";
    // R2: the kind is checked against retErr as it is at this turn.
    if (entry.on === "error" ? !state.failed : entry.on === "success" && state.failed) {
      sink?.emit({ type: "cleanup:skipped", transactionId, label: entry.label, reason: "kind" });
      continue;
    }
    const { label } = entry;
    // R3: a guarded cleanup after a failed one keeps its resource, and says so.
    if (entry.guard && state.failures.length > 0) {
      entry.retained = true;
      state.retained.push({ label });
      sink?.emit({ type: "cleanup:retained", transactionId, label });
      continue;
    }
    const startedAt = sink === undefined ? 0 : performance.now();
    sink?.emit({ type: "cleanup:started", transactionId, label });
    const scope = new CleanupScope(state, label);
    let returned: unknown;
    try {
      returned = entry.fn(scope);
    } catch (error) {
      record(u, label, { error }, startedAt);
      continue;
    }
    if (isThenable(returned)) {
      const timeoutMs = entry.timeoutMs ?? u.defaultTimeoutMs;
      return settleWithin(returned, timeoutMs, label, scope.deadline).then((settled) => {
        record(u, label, settled, startedAt);
        return unwindFrom(u, i - 1);
      });
    }
    record(u, label, settledFromValue(returned), startedAt);
  }
  return undefined;
}

export function record(u: UnwindContext, label: string, settled: Settled, startedAt: number): void {
  const { sink, transactionId } = u;
  if (settled === undefined) {
    if (sink !== undefined) {
      sink.emit({ type: "cleanup:succeeded", transactionId, label, durationMs: performance.now() - startedAt });
    }
    return;
  }
  u.state.recordFailure(label, settled.error);
  if (sink !== undefined) {
    const durationMs = performance.now() - startedAt;
    sink.emit({ type: "cleanup:failed", transactionId, label, durationMs, error: settled.error });
  }
}
