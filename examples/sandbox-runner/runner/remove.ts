// RemovePodSandbox: stop, then release everything else (the container, bundle, record, name).
// Idempotent: an unknown id is success; what a failed release keeps stays listed for a retry.
import { err, ok, type Result } from "neverthrow";
import type { CallOptions, RunnerContext } from "./context.js";
import type { AmbiguousIdError, OperationFailedError } from "./errors.js";
import { operationFailed } from "./failure.js";
import { releaseRecord } from "./release.js";
import { stopPodSandbox } from "./stop.js";

/** Removes the sandbox `idOrPrefix` names. */
export async function removePodSandbox(
  ctx: RunnerContext,
  idOrPrefix: string,
  call: CallOptions = {},
): Promise<Result<undefined, AmbiguousIdError | OperationFailedError>> {
  const stopped = await stopPodSandbox(ctx, idOrPrefix, call);
  if (stopped.isErr()) return err(stopped.error);
  const record = stopped.value;
  if (record === undefined) return ok(undefined);
  const removed = await releaseRecord(ctx, record, undefined, "RemovePodSandbox", call);
  return removed.isErr() ? err(operationFailed(`remove pod sandbox ${record.id}`, removed.error)) : ok(undefined);
}
