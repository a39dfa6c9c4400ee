// StopPodSandbox: stop the pause process beside CNI DEL, then remove the netns (the table's graph,
// R12); the record, bundle and name stay for RemovePodSandbox. Idempotent: an unknown id, or a
// stopped sandbox, is success.
import { err, ok, type Result } from "neverthrow";
import { isSandboxId, type SandboxRecord } from "../store.js";
import type { CallOptions, RunnerContext } from "./context.js";
import type { AmbiguousIdError, OperationFailedError } from "./errors.js";
import { operationFailed } from "./failure.js";
import { recoverRunner } from "./recover.js";
import { releaseRecord } from "./release.js";
import { findSandbox } from "./status.js";
import { STOP_STEPS } from "./steps.js";

/** Stops the sandbox `idOrPrefix` names; resolves to its record (NOTREADY), or undefined if unknown. */
export async function stopPodSandbox(
  ctx: RunnerContext,
  idOrPrefix: string,
  call: CallOptions = {},
): Promise<Result<SandboxRecord | undefined, AmbiguousIdError | OperationFailedError>> {
  const found = await recovered(ctx, idOrPrefix, call);
  if (found.isErr() || found.value === undefined) return found;
  const record = found.value;
  const stopped = await releaseRecord(ctx, record, (r) => STOP_STEPS.has(r.step), "StopPodSandbox", call);
  return stopped.mapErr((e) => operationFailed(`stop pod sandbox ${record.id}`, e));
}

/**
 * The sandbox `idOrPrefix` names, once the unfinished journal transaction of a run killed part-way
 * (Ctrl-C, SIGKILL) is rolled back, as `recover` would: its record, written early, does not list
 * what the run held yet. A run still going holds the state dir's lock, so it is never recovered
 * here: the lock is waited for, then refused naming its holder.
 */
async function recovered(
  ctx: RunnerContext,
  idOrPrefix: string,
  call: CallOptions,
): Promise<Result<SandboxRecord | undefined, AmbiguousIdError | OperationFailedError>> {
  const found = await findSandbox(ctx, idOrPrefix);
  if (found.isErr()) return found;
  const id = found.value?.id ?? (isSandboxId(idOrPrefix) ? idOrPrefix : undefined);
  if (id === undefined) return found;
  const report = await oneAtATime(ctx, () => recoverRunner(ctx, call, id));
  if (report.isErr()) return err(operationFailed(`recover the killed run of sandbox ${id}`, report.error));
  if (report.value.transactions === 0) return found;
  const again = await findSandbox(ctx, id);
  return again.isErr() ? again : ok(again.value);
}

/** The journal's recovery lock admits one recovery at a time: concurrent stops / rms in one process queue. */
const recoveries = new WeakMap<RunnerContext, Promise<unknown>>();

function oneAtATime<T>(ctx: RunnerContext, recover: () => Promise<T>): Promise<T> {
  const next = (recoveries.get(ctx) ?? Promise.resolve()).then(recover, recover);
  recoveries.set(
    ctx,
    next.catch(() => undefined),
  );
  return next;
}
