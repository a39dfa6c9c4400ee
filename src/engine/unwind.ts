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
    const run = startCleanup(u, entry);
    if (typeof run === "boolean") continue;
    return run.settled.then((settled) => {
      finishCleanup(u, run, settled);
      return unwindFrom(u, i - 1);
    });
  }
  return undefined;
}

/** A cleanup still pending after its synchronous part: hand its settlement to `finishCleanup`. */
export interface PendingCleanup {
  readonly settled: Promise<Settled>;
  readonly label: string;
  readonly startedAt: number;
}

/**
 * Runs one cleanup whose turn it is (R6 deadline, R4 record), for both unwinds. A cleanup that
 * ends synchronously is recorded here and the result says whether it failed; a pending one
 * comes back as its settlement (the one promise it costs), which the caller chains on.
 */
export function startCleanup(u: UnwindContext, entry: CleanupEntry): boolean | PendingCleanup {
  const { sink, transactionId } = u;
  const { label } = entry;
  const startedAt = sink === undefined ? 0 : performance.now();
  sink?.emit({ type: "cleanup:started", transactionId, label });
  const scope = new CleanupScope(u.state, label);
  let returned: unknown;
  try {
    returned = entry.fn(scope);
  } catch (error) {
    return record(u, label, { error }, startedAt);
  }
  if (isThenable(returned)) {
    const settled = settleWithin(returned, entry.timeoutMs ?? u.defaultTimeoutMs, label, scope.deadline);
    return { settled, label, startedAt };
  }
  return record(u, label, settledFromValue(returned), startedAt);
}

/** Records how a pending cleanup settled; returns whether it failed. */
export function finishCleanup(u: UnwindContext, pending: PendingCleanup, settled: Settled): boolean {
  return record(u, pending.label, settled, pending.startedAt);
}

/** R4: records a failure (and the events); returns whether the cleanup failed. */
function record(u: UnwindContext, label: string, settled: Settled, startedAt: number): boolean {
  const { sink, transactionId } = u;
  if (settled === undefined) {
    if (sink !== undefined) {
      sink.emit({ type: "cleanup:succeeded", transactionId, label, durationMs: performance.now() - startedAt });
    }
    return false;
  }
  u.state.recordFailure(label, settled.error);
  if (sink !== undefined) {
    const durationMs = performance.now() - startedAt;
    sink.emit({ type: "cleanup:failed", transactionId, label, durationMs, error: settled.error });
  }
  return true;
}
