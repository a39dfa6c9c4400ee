// The step graph (R13) and the undo graph derived from it (R12): which of the steps that have
// something to undo each one was built on. One module, so that the rollback, the hand-over,
// releaseHeld and recovery derive the same edges the same way, and write them down the same way
// (nothing at all for a chain).
import type { Cleanup, CleanupHandle, CleanupOptions, Transaction } from "../engine/types.js";

/** Each node's direct dependencies, by index (all earlier than the node). */
export type Edges = readonly (readonly number[])[];

/**
 * The nearest ancestors of node `k` that `keep` accepts: walking up the edges, a node `keep`
 * rejects is passed through. What a compensation waits for when only some steps registered one.
 */
export function nearestKept(edges: Edges, k: number, keep: (n: number) => boolean): number[] {
  const found = new Set<number>();
  const seen = new Set<number>();
  const walk = (n: number): void => {
    for (const d of edges[n]!) {
      if (seen.has(d)) continue;
      seen.add(d);
      if (keep(d)) found.add(d);
      else walk(d);
    }
  };
  walk(k);
  return [...found].sort((a, b) => a - b);
}

/** The transitive dependencies of each node (by index, ascending), from its direct ones. */
export function closureOf(edges: Edges): number[][] {
  const closure: number[][] = [];
  edges.forEach((deps, k) => {
    const all = new Set<number>();
    for (const d of deps) {
      all.add(d);
      for (const a of closure[d]!) all.add(a);
    }
    closure[k] = [...all].sort((a, b) => a - b);
  });
  return closure;
}

/**
 * Dependencies as they are written down (HeldResource.after, the journal's `after`, dependsOn):
 * undefined when they are exactly the default, the item listed just before (a chain), so that a
 * chain writes nothing new and unwinds in the engine's plain LIFO loop.
 */
export function unlessPrevious<T>(deps: readonly T[], previous: T | undefined): readonly T[] | undefined {
  if (previous === undefined) return deps.length === 0 ? undefined : deps;
  return deps.length === 1 && deps[0] === previous ? undefined : deps;
}

/** Edges of items listed with optional `after` names (absent: the item just before), by index. */
export function edgesOfListed(items: readonly { readonly step: string; readonly after?: readonly string[] }[]): Edges {
  const at = new Map<string, number>();
  return items.map((item, k) => {
    const named = item.after ?? (k > 0 ? [items[k - 1]!.step] : []);
    at.set(item.step, k);
    // A name that is not an earlier item (a damaged record) is ignored: the item still gets its turn.
    return [...new Set(named.map((n) => at.get(n)).filter((d): d is number => d !== undefined && d < k))];
  });
}

/** A cleanup to register for node `k`, or undefined when the node has nothing to undo. */
export interface Undo {
  readonly fn: Cleanup;
  readonly options: CleanupOptions;
}

/**
 * Registers the undos of `nodes` in index order, each depending on (R12) the nearest nodes it was
 * built on that have one; those with none depend on `roots`. Returns the last handle and the
 * sinks (handles nothing registered here depends on), for a group registered after this one.
 */
export function deferGraph(
  tx: Transaction,
  edges: Edges,
  undos: readonly (Undo | undefined)[],
  roots: readonly CleanupHandle[] = [],
  previous?: CleanupHandle,
): { readonly last: CleanupHandle | undefined; readonly sinks: readonly CleanupHandle[] } {
  const handles = new Map<number, CleanupHandle>();
  const dependedOn = new Set<number>();
  let last = previous;
  undos.forEach((undo, k) => {
    if (undo === undefined) return;
    const nearest = nearestKept(edges, k, (n) => undos[n] !== undefined);
    for (const d of nearest) dependedOn.add(d);
    const named = nearest.length === 0 ? roots : nearest.map((d) => handles.get(d)!);
    const dependsOn = unlessPrevious(named, last);
    last = tx.defer(undo.fn, dependsOn === undefined ? undo.options : { ...undo.options, dependsOn });
    handles.set(k, last);
  });
  const sinks = [...handles].filter(([k]) => !dependedOn.has(k)).map(([, h]) => h);
  return { last, sinks };
}
