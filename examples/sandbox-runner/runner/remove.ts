// RemovePodSandbox: stop, then release everything else (the container, bundle, record, name).
// Idempotent: an unknown id is success; what a failed release keeps stays listed for a retry.
// With `force`, a release that keeps failing (a CNI DEL whose plugin is gone) is given up on:
// the rest is released, the record deleted, and what was abandoned reported.
import { describeError, isTransactionError } from "errdefer";
import { err, ok, type Result } from "neverthrow";
import type { CallOptions, RunnerContext } from "./context.js";
import {
  AbandonedResourcesError,
  type AbandonedResource,
  type AmbiguousIdError,
  OperationFailedError,
} from "./errors.js";
import { operationFailed } from "./failure.js";
import { releaseRecord } from "./release.js";
import { findSandbox } from "./status.js";
import { cleanupName } from "./steps.js";
import { stopPodSandbox } from "./stop.js";

export interface RemoveOptions extends CallOptions {
  /** Give up on releases that fail: release the rest, delete the record, report what was left. */
  readonly force?: boolean;
}

type Removed = Result<undefined, AmbiguousIdError | OperationFailedError | AbandonedResourcesError>;

/** Removes the sandbox `idOrPrefix` names. */
export async function removePodSandbox(
  ctx: RunnerContext,
  idOrPrefix: string,
  call: RemoveOptions = {},
): Promise<Removed> {
  const stopped = await stopPodSandbox(ctx, idOrPrefix, call);
  if (stopped.isErr())
    return call.force === true && isFailure(stopped.error) ? forceRemove(ctx, idOrPrefix, call) : err(stopped.error);
  const record = stopped.value;
  if (record === undefined) return ok(undefined);
  const removed = await releaseRecord(ctx, record, undefined, "RemovePodSandbox", call);
  if (removed.isOk()) return ok(undefined);
  return call.force === true
    ? forceRemove(ctx, record.id, call)
    : err(operationFailed(`remove pod sandbox ${record.id}`, removed.error));
}

function isFailure(e: AmbiguousIdError | OperationFailedError): e is OperationFailedError {
  return e instanceof OperationFailedError;
}

/**
 * Releases what the record holds again and again, each time dropping the resources whose release
 * failed, until nothing is left; resolves to what was dropped (an err), or ok when nothing was.
 */
async function forceRemove(ctx: RunnerContext, idOrPrefix: string, call: CallOptions): Promise<Removed> {
  const abandoned: AbandonedResource[] = [];
  for (;;) {
    const found = await findSandbox(ctx, idOrPrefix);
    if (found.isErr()) return err(found.error);
    const record = found.value;
    if (record === undefined) break;
    const released = await releaseRecord(ctx, record, undefined, "RemovePodSandbox --force", call);
    if (released.isOk()) break;
    const failures = isTransactionError(released.error) ? released.error.cleanupFailures : [];
    const failed = new Set(failures.map((f) => f.label));
    const current = await ctx.store.read(record.id);
    // Nothing to drop (the failure was not a release): give up as a plain rm would.
    if (current === undefined || !current.resources.some((r) => failed.has(r.step)))
      return err(operationFailed(`remove pod sandbox ${record.id}`, released.error));
    for (const f of failures)
      abandoned.push({ step: cleanupName(f.label), sandbox: record.id, error: describeError(f.error) });
    await ctx.store.write({ ...current, resources: current.resources.filter((r) => !failed.has(r.step)) });
  }
  return abandoned.length === 0 ? ok(undefined) : err(new AbandonedResourcesError(abandoned));
}
