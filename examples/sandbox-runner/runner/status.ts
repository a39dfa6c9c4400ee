// PodSandboxStatus and ListPodSandbox: finding a sandbox by id or prefix, listing them, and what
// `ls --json` / `inspect` show of a record.
import { lstat } from "node:fs/promises";
import { err, ok, type Result } from "neverthrow";
import { ensureStateRoot, Store, type SandboxRecord, type StateLayout } from "../store.js";
import type { RunnerContext } from "./context.js";
import { AmbiguousIdError, SandboxNotFoundError } from "./errors.js";

/** What `ls --json` prints per sandbox. */
export interface SandboxSummary {
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly state: SandboxRecord["state"];
  readonly netnsPath: string | null;
  readonly ip: string | null;
  readonly createdAt: string;
  readonly hostNetwork: boolean;
}

export function summary(r: SandboxRecord): SandboxSummary {
  return {
    id: r.id,
    name: r.name,
    namespace: r.namespace,
    state: r.state,
    netnsPath: r.netnsPath,
    ip: r.ip,
    createdAt: r.createdAt,
    hostNetwork: r.hostNetwork,
  };
}

/** What `inspect` prints: the summary, then labels, resources, the step log and the last error. */
export function details(r: SandboxRecord) {
  return {
    ...summary(r),
    hostname: r.hostname,
    labels: r.labels,
    annotations: r.annotations,
    resources: r.resources,
    steps: r.steps,
    error: r.error,
  };
}

/** The sandbox a full id or a unique prefix names; undefined when none does. */
export async function findSandbox(
  ctx: Pick<RunnerContext, "store">,
  idOrPrefix: string,
): Promise<Result<SandboxRecord | undefined, AmbiguousIdError>> {
  const found = await ctx.store.resolve(idOrPrefix);
  if (found !== "ambiguous") return ok(found);
  const matches = (await ctx.store.list()).filter((r) => r.id.startsWith(idOrPrefix)).length;
  return err(new AmbiguousIdError(idOrPrefix, matches));
}

/** PodSandboxStatus: the record of one sandbox; an unknown id is an error here (not for stop / rm). */
export async function inspectSandbox(
  ctx: Pick<RunnerContext, "store">,
  idOrPrefix: string,
): Promise<Result<SandboxRecord, SandboxNotFoundError | AmbiguousIdError>> {
  const found = await findSandbox(ctx, idOrPrefix);
  if (found.isErr()) return err(found.error);
  return found.value === undefined ? err(new SandboxNotFoundError(idOrPrefix)) : ok(found.value);
}

/** ListPodSandbox: every record, oldest first; unreadable ones are reported through `problems`. */
export function listSandboxes(ctx: Pick<RunnerContext, "store">, problems?: string[]): Promise<SandboxRecord[]> {
  return ctx.store.list(problems);
}

/**
 * `ls` and `inspect`: the records read without the state dir's lock (each is replaced whole, by a
 * rename, so a reader sees the old one or the new one), so they answer while a run holds the lock
 * or when the lock file is unusable. Nothing is created; a missing state dir has no sandboxes.
 */
export class SandboxReader {
  private constructor(readonly store: Store) {}

  /** Refuses a state dir that is not private (as the runner does), without creating it. */
  static async open(layout: StateLayout): Promise<SandboxReader> {
    const exists = await lstat(layout.root).then(
      () => true,
      (e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? false : Promise.reject(e)),
    );
    if (exists) await ensureStateRoot(layout.root);
    return new SandboxReader(new Store(layout));
  }

  list(problems?: string[]): Promise<SandboxRecord[]> {
    return listSandboxes(this, problems);
  }

  inspect(idOrPrefix: string): Promise<Result<SandboxRecord, SandboxNotFoundError | AmbiguousIdError>> {
    return inspectSandbox(this, idOrPrefix);
  }
}
