// Releasing what a sandbox record holds (Stop: part of it; Remove: all), through the library's
// releaseHeld, then bringing the record in line with what is still held.
import { err, ok, type Result } from "neverthrow";
import { releaseHeld, type AnyResourceAdapter, type HeldResource, type TransactionError } from "errdefer";
import type { SandboxRecord, StepLogEntry } from "../store.js";
import type { CallOptions, RunnerContext } from "./context.js";
import { inStepGraph, type StepName } from "./steps.js";

interface Released {
  readonly result: Result<void, TransactionError>;
  /** The steps whose resources were released. */
  readonly released: ReadonlySet<string>;
  readonly log: readonly StepLogEntry[];
}

/**
 * Releases the resources of `record` that `which` selects (all when undefined), as the operation
 * `name`; the record is updated, or deleted once nothing is left. Resolves to the record, if any.
 */
export async function releaseRecord(
  ctx: RunnerContext,
  record: SandboxRecord,
  which: ((r: HeldResource) => boolean) | undefined,
  name: string,
  call: CallOptions,
): Promise<Result<SandboxRecord | undefined, TransactionError>> {
  // Released in reverse of the table's graph (R12), whatever order or `after` the record has.
  const toRelease = inStepGraph(record.resources.filter((r) => which === undefined || which(r)));
  const outcome = await release(ctx, record.id, toRelease, name, call);
  const { result, released, log } = outcome;
  const isReleased = (step: StepName) => toRelease.some((r) => r.step === step && released.has(r.step));
  const remaining = record.resources.filter((r) => !((which === undefined || which(r)) && released.has(r.step)));
  const recordGone = isReleased("create-record");
  // Everything released: a record that held only what is now gone (see run) is deleted too.
  const nothingLeft = which === undefined && result.isOk() && remaining.length === 0;
  if (recordGone || nothingLeft) {
    if (result.isOk() && !recordGone) await ctx.store.delete(record.id);
    // The record was deleted and a later cleanup (release-name) failed: a record of what is
    // still held is written again, so that the next rm retries it.
    if (result.isErr() && remaining.length > 0) await keep(ctx, record, remaining, log, result.error, null);
    return result.isOk() ? ok(undefined) : err(result.error);
  }
  const ip = isReleased("cni-add") ? null : record.ip;
  const updated = await keep(ctx, record, remaining, log, result.isErr() ? result.error : undefined, ip);
  return result.isOk() ? ok(updated) : err(result.error);
}

async function release(
  ctx: RunnerContext,
  tx: string,
  resources: readonly HeldResource[],
  name: string,
  call: CallOptions,
): Promise<Released> {
  const report = ctx.progress(`${name}:`);
  const released = new Set<string>();
  if (resources.length === 0) return { result: ok(undefined), released, log: report.log };
  const adapters: AnyResourceAdapter[] = Object.values(ctx.adapters(call));
  const result = await releaseHeld({ saga: name, tx, resources }, adapters, {
    journal: ctx.journal,
    cleanupTimeoutMs: ctx.config.cleanupTimeoutMs,
    onEvent: (e) => {
      report.onEvent(e);
      if (e.type === "cleanup:succeeded") released.add(e.label);
    },
  });
  return { result: result.map(() => undefined), released, log: report.log };
}

/** Writes `record` back NOTREADY, holding `remaining`, with the step log and the error, if any. */
async function keep(
  ctx: RunnerContext,
  record: SandboxRecord,
  remaining: readonly HeldResource[],
  log: readonly StepLogEntry[],
  error: TransactionError | undefined,
  ip: string | null,
): Promise<SandboxRecord> {
  const updated: SandboxRecord = {
    ...record,
    state: "NOTREADY",
    ip,
    resources: remaining,
    steps: [...record.steps, ...log],
    error: error === undefined ? null : error.message,
  };
  await ctx.store.write(updated);
  return updated;
}
