// After a crash: the library's journal recovery rolls back every run a killed runner left
// unfinished, then the store is reconciled with what recovery could not release and with pause
// processes that are gone. A record it cannot use is skipped and reported, never fatal; a refused
// journal entry stays in the journal until the operator sets it aside (`--quarantine`).
import { readFile } from "node:fs/promises";
import { err, ok, type Result } from "neverthrow";
import type { AnyResourceAdapter, HeldResource } from "errdefer";
import { recover, type JournalError, type RecoveryReport } from "errdefer/journal";
import { isSandboxId, sweepTempFiles } from "../store.js";
import type { CallOptions, RunnerContext } from "./context.js";
import { isRefusal, type Quarantined } from "./quarantine.js";
import { isGuarded, stepOrder } from "./steps.js";

/** The journal's report, and what the store's reconciliation skipped or set aside. */
export interface RunnerRecoveryReport extends RecoveryReport {
  /** Records that could not be used (unreadable, or not the record their file name says): left as they are. */
  readonly skipped: readonly string[];
  /** Refused entries set aside in the quarantine dir (`call.quarantine`); not in `released`. */
  readonly quarantined: readonly Quarantined[];
}

/**
 * Recovers the journal and reconciles the store. The journal's own error (an unsafe journal dir:
 * `unsafe-dir`) is passed on as it is: nothing was released. With `only` (a sandbox id), just the
 * runs of that sandbox are recovered (before stop / rm: a run killed part-way is rolled back
 * first), and the rest of the store is left as it is.
 */
export async function recoverRunner(
  ctx: RunnerContext,
  call: CallOptions = {},
  only?: string,
): Promise<Result<RunnerRecoveryReport, JournalError>> {
  const adapters: AnyResourceAdapter[] = Object.values(ctx.adapters(call));
  const report = await recover(ctx.journal, adapters, {
    cleanupTimeoutMs: ctx.config.cleanupTimeoutMs,
    ...(only === undefined ? {} : { select: (t) => t.resources.some((r) => sandboxIdOf(r.desc) === only) }),
    // A run killed after the store took the sandbox (READY) but before its commit was durable.
    isOwned: async (t) => {
      const rec = t.resources.find((r) => r.kind === "sandbox-record" && r.status !== "released");
      const id = (rec?.desc as { id?: unknown } | undefined)?.id;
      return ctx.owner.ownsId(id) && (await ctx.store.read(id).catch(() => undefined))?.state === "READY";
    },
  });
  if (report.isErr()) return err(report.error);
  const skipped: string[] = [];
  const { layout } = ctx.config;
  // Records half-written by a killed runner (its temp file, never renamed into place).
  if (only === undefined)
    await sweepTempFiles([layout.sandboxes, layout.names], async (pid) => pid === process.pid || (await pidAlive(pid)));
  await keepLeftovers(ctx, report.value, skipped);
  if (only === undefined) await markDeadNotReady(ctx, skipped);
  const quarantined = call.quarantine?.into ?? [];
  // A description set aside was "released" for the journal: it is reported as quarantined only.
  const released = report.value.released.filter((r) => !quarantined.some((q) => q.description === r.description));
  return ok({ ...report.value, released, skipped: [...new Set(skipped)], quarantined });
}

/**
 * What recovery could not release stays with its sandbox, for rm to retry; a refusal stays in the
 * journal only (rm could not do better), for `recover --quarantine`.
 */
async function keepLeftovers(ctx: RunnerContext, report: RecoveryReport, skipped: string[]): Promise<void> {
  const failed = report.failed.filter((f) => !isRefusal(f.error));
  for (const left of [...failed, ...report.retained]) {
    const id = sandboxIdOf(left.description);
    const record =
      id === undefined
        ? undefined
        : await ctx.store.read(id).catch((e: unknown) => {
            skipped.push(`${id}.json: ${(e as Error).message}`);
            return undefined;
          });
    if (record === undefined || record.resources.some((r) => r.step === left.step)) continue;
    const resource: HeldResource = {
      step: left.step,
      kind: left.kind,
      guard: isGuarded(left.step),
      description: left.description,
    };
    const resources = [...record.resources, resource].sort((x, y) => stepOrder(x.step) - stepOrder(y.step));
    await ctx.store.write({ ...record, state: "NOTREADY", resources, error: `recovery left ${left.step} behind` });
  }
}

/** A READY sandbox whose pause process is gone is not ready any more. */
async function markDeadNotReady(ctx: RunnerContext, skipped: string[]): Promise<void> {
  for (const record of await ctx.store.list(skipped)) {
    if (record.state !== "READY") continue;
    const state = await ctx.runc.state(record.id);
    if (state.isOk() && state.value?.status === "running") continue;
    await ctx.store.write({ ...record, state: "NOTREADY", error: "the pause container is not running" });
  }
}

/** Whether a PID is a live (non-zombie) process; the start time is not recorded in a temp file name. */
async function pidAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** The sandbox a journalled description belongs to: its id, container id, or the id ending its name. */
function sandboxIdOf(desc: unknown): string | undefined {
  if (typeof desc !== "object" || desc === null) return undefined;
  const d = desc as { id?: unknown; containerId?: unknown; name?: unknown };
  for (const v of [d.id, d.containerId]) if (isSandboxId(v)) return v;
  return typeof d.name === "string" ? /([0-9a-f]{32})$/.exec(d.name)?.[1] : undefined;
}
