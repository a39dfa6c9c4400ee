// What the DAG crash test's parent and child share: the run's config and the saga's graph.

export interface DagCrashConfig {
  readonly runId: string;
  readonly journalDir: string;
  readonly log: string;
  readonly groupCommit: boolean;
  /** Die at the N-th hook point passed with two or more operations in flight; 0: never. */
  readonly killAt: number;
  /** A resource step whose acquisition fails after half-making it, "ready" (the last step), or none. */
  readonly failAt: string;
  /** A resource whose release fails in the child (never in the parent). */
  readonly failRelease: string;
  /** After a commit, release what was handed over (releaseHeld) in the child. */
  readonly stop: boolean;
}

/**
 * The graph: net and disk at once; vol on disk (guarded), ctr on net and vol, logs on disk, tmp
 * (on-always) on net; ready (a plain step) on ctr and logs.
 */
export const DAG_STEPS: readonly { readonly step: string; readonly after: readonly string[] }[] = [
  { step: "net", after: [] },
  { step: "disk", after: [] },
  { step: "vol", after: ["disk"] },
  { step: "ctr", after: ["net", "vol"] },
  { step: "logs", after: ["disk"] },
  { step: "tmp", after: ["net"] },
];
