// PodSandboxStatus and ListPodSandbox: finding a sandbox by id or prefix, listing them, and what
// `ls --json` / `inspect` show of a record.
import { err, ok, type Result } from "neverthrow";
import type { SandboxRecord } from "../store.js";
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
  ctx: RunnerContext,
  idOrPrefix: string,
): Promise<Result<SandboxRecord | undefined, AmbiguousIdError>> {
  const found = await ctx.store.resolve(idOrPrefix);
  if (found !== "ambiguous") return ok(found);
  const matches = (await ctx.store.list()).filter((r) => r.id.startsWith(idOrPrefix)).length;
  return err(new AmbiguousIdError(idOrPrefix, matches));
}

/** PodSandboxStatus: the record of one sandbox; an unknown id is an error here (not for stop / rm). */
export async function inspectSandbox(
  ctx: RunnerContext,
  idOrPrefix: string,
): Promise<Result<SandboxRecord, SandboxNotFoundError | AmbiguousIdError>> {
  const found = await findSandbox(ctx, idOrPrefix);
  if (found.isErr()) return err(found.error);
  return found.value === undefined ? err(new SandboxNotFoundError(idOrPrefix)) : ok(found.value);
}

/** ListPodSandbox: every record, oldest first; unreadable ones are reported through `problems`. */
export function listSandboxes(ctx: RunnerContext, problems?: string[]): Promise<SandboxRecord[]> {
  return ctx.store.list(problems);
}
