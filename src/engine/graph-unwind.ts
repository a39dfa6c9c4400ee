// The unwind of cleanups that name what they were built on (R12): each starts once every cleanup
// built on it has ended, independent ones run at once (within the concurrency bound), and a
// guarded one is retained when one built on it, transitively, failed or was retained. R2, R4-R8
// hold as in the LIFO loop (unwind.ts), whose running of one cleanup this shares.
import type { CleanupEntry } from "./cleanup.js";
import { finishCleanup, startCleanup, type UnwindContext } from "./unwind.js";

/** One cleanup's place in the graph. */
interface Node {
  readonly entry: CleanupEntry;
  readonly index: number;
  /** The cleanups it was built on: they wait for it. */
  readonly deps: readonly Node[];
  /** How many cleanups built on it have not ended yet. */
  waiting: number;
  /** One built on it, transitively, failed or was retained (R12's guard rule). */
  tainted: boolean;
}

/** Runs every cleanup under R12; returns a Promise only if one was pending. */
export function unwindGraph(u: UnwindContext): void | Promise<void> {
  const nodes = graphOf(u.entries);
  const limit = u.concurrency ?? Number.POSITIVE_INFINITY;
  // Ready to start, kept sorted by registration: the latest registered starts first (LIFO among equals).
  const ready = nodes.filter((n) => n.waiting === 0);
  let running = 0;
  let left = nodes.length;
  let done: (() => void) | undefined;

  const end = (node: Node, bad: boolean): void => {
    left--;
    for (const d of node.deps) {
      d.tainted ||= bad || node.tainted;
      if (--d.waiting === 0) insert(ready, d);
    }
  };
  const pump = (): void => {
    while (ready.length > 0 && running < limit) {
      const node = ready.pop()!;
      const pending = turn(u, node, end);
      if (pending !== undefined) {
        running++;
        void pending.then(() => {
          running--;
          pump();
          if (left === 0) done?.();
        });
      }
    }
  };
  pump();
  if (left === 0) return undefined;
  return new Promise<void>((resolve) => {
    done = resolve;
  });
}

/** The nodes, each with what it was built on (default: the cleanup registered just before it). */
function graphOf(entries: readonly CleanupEntry[]): Node[] {
  const byEntry = new Map<CleanupEntry, Node>();
  const nodes: Node[] = [];
  entries.forEach((entry, index) => {
    const named = entry.dependsOn ?? (index > 0 ? [entries[index - 1]!] : []);
    const deps = [...new Set(named)].map((e) => byEntry.get(e)!);
    const node: Node = { entry, index, deps, waiting: 0, tainted: false };
    for (const d of deps) d.waiting++;
    byEntry.set(entry, node);
    nodes.push(node);
  });
  return nodes;
}

function insert(ready: Node[], node: Node): void {
  let i = ready.length;
  while (i > 0 && ready[i - 1]!.index > node.index) i--;
  ready.splice(i, 0, node);
}

/**
 * One cleanup's turn: R8 (dismissed), R2 (kind, against retErr now), R12's guard, then the run.
 * Ends the node at once when it settles synchronously; otherwise returns the pending settlement.
 */
function turn(u: UnwindContext, node: Node, end: (node: Node, bad: boolean) => void): Promise<void> | undefined {
  const { entry } = node;
  const { state, sink, transactionId } = u;
  const { label } = entry;
  if (entry.state !== "pending") {
    sink?.emit({ type: "cleanup:skipped", transactionId, label, reason: "dismissed" });
    end(node, false);
    return undefined;
  }
  entry.state = "ran";
  if (entry.on === "error" ? !state.failed : entry.on === "success" && state.failed) {
    sink?.emit({ type: "cleanup:skipped", transactionId, label, reason: "kind" });
    end(node, false);
    return undefined;
  }
  if (entry.guard && node.tainted) {
    entry.retained = true;
    state.retained.push({ label });
    sink?.emit({ type: "cleanup:retained", transactionId, label });
    end(node, true);
    return undefined;
  }
  const run = startCleanup(u, entry);
  if (typeof run === "boolean") {
    end(node, run);
    return undefined;
  }
  return run.settled.then((settled) => end(node, finishCleanup(u, run, settled)));
}
