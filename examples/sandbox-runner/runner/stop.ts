// StopPodSandbox: kill the pause process, CNI DEL, remove the netns; the record, bundle and name
// stay for RemovePodSandbox. Idempotent: an unknown id, or a stopped sandbox, is success.
import type { Result } from "neverthrow";
import type { SandboxRecord } from "../store.js";
import type { CallOptions, RunnerContext } from "./context.js";
import type { AmbiguousIdError, OperationFailedError } from "./errors.js";
import { operationFailed } from "./failure.js";
import { releaseRecord } from "./release.js";
import { findSandbox } from "./status.js";
import { STOP_STEPS } from "./steps.js";

/** Stops the sandbox `idOrPrefix` names; resolves to its record (NOTREADY), or undefined if unknown. */
export async function stopPodSandbox(
  ctx: RunnerContext,
  idOrPrefix: string,
  call: CallOptions = {},
): Promise<Result<SandboxRecord | undefined, AmbiguousIdError | OperationFailedError>> {
  const found = await findSandbox(ctx, idOrPrefix);
  if (found.isErr() || found.value === undefined) return found;
  const record = found.value;
  const stopped = await releaseRecord(ctx, record, (r) => STOP_STEPS.has(r.step), "StopPodSandbox", call);
  return stopped.mapErr((e) => operationFailed(`stop pod sandbox ${record.id}`, e));
}
