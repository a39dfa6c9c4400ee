// RunPodSandbox: plan the run, run the saga (runner/steps.ts), and on failure keep what a guarded
// cleanup could not release listed as NOTREADY, for stop / rm to retry (containerd#5768).
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import type { HeldResource, StepEvent, TransactionError, TransactionEvent } from "errdefer";
import { missingBinaries } from "../cni/index.js";
import type { PodConfig } from "../pod-config.js";
import type { SandboxRecord } from "../store.js";
import type { CallOptions, RunnerContext } from "./context.js";
import { ConfigError, type OperationFailedError } from "./errors.js";
import { operationFailed } from "./failure.js";
import type { Progress } from "./progress.js";
import { inStepGraph, runPodSandboxSaga, type RunContext, type RunPlan } from "./steps.js";

const ACTION = "run pod sandbox";

/** RunPodSandbox. On failure, everything is rolled back, or kept for a retry and reported. */
export async function runPodSandbox(
  ctx: RunnerContext,
  config: PodConfig,
  call: CallOptions = {},
): Promise<Result<SandboxRecord, OperationFailedError | ConfigError>> {
  const planned = await planRun(ctx, config);
  if (planned.isErr())
    return err(planned.error instanceof ConfigError ? planned.error : operationFailed(ACTION, planned.error));
  const plan = planned.value;
  const run = follow(ctx.progress("rollback:"));
  const markReady = async (c: RunContext): Promise<SandboxRecord> => {
    const ready: SandboxRecord = {
      ...plan.record,
      state: "READY",
      ip: c["cni-add"]?.ip ?? null,
      resources: inStepGraph(run.held),
      steps: [...run.report.log],
    };
    // The store takes ownership here (containerd: rollback = false).
    await ctx.store.write(ready);
    return ready;
  };
  const saga = runPodSandboxSaga(ctx.adapters(call), ctx.failpoints(call), markReady);
  const result = await saga.run(plan, {
    journal: ctx.journal,
    cleanupTimeoutMs: ctx.config.cleanupTimeoutMs,
    onStep: run.onStep,
    onEvent: run.onEvent,
    ...(call.signal === undefined ? {} : { signal: call.signal }),
  });
  if (result.isErr()) {
    await keepForRetry(ctx, plan, run, result.error);
    return err(operationFailed(ACTION, result.error));
  }
  // The saga succeeded: its last step, mark-ready, ran.
  return ok(result.value.context["mark-ready"]!);
}

/** The id, names and paths of a new sandbox, and its network (loaded unless host network). */
async function planRun(ctx: RunnerContext, config: PodConfig): Promise<Result<RunPlan, Error>> {
  const { netnsDir, prefix, cniBinDir, layout } = ctx.config;
  let network;
  if (!config.hostNetwork) {
    const loaded = await ctx.network();
    if (loaded.isErr()) return err(loaded.error);
    network = loaded.value.config;
    // Before anything is created: a plugin or IPAM binary that is not there would fail ADD part-way.
    const missing = await missingBinaries(network, cniBinDir);
    if (missing.length > 0) return err(new ConfigError(missing, `CNI network config ${loaded.value.file}`));
  }
  const id = ctx.owner.newSandboxId();
  const netnsName = `${prefix}${id}`;
  const { metadata: md } = config;
  const record: SandboxRecord = {
    v: 1,
    id,
    name: md.name,
    namespace: md.namespace,
    uid: md.uid,
    attempt: md.attempt,
    state: "NOTREADY",
    createdAt: new Date().toISOString(),
    hostNetwork: config.hostNetwork,
    netnsPath: config.hostNetwork ? null : path.join(netnsDir, netnsName),
    ip: null,
    hostname: config.hostname ?? null,
    labels: config.labels,
    annotations: config.annotations,
    resources: [],
    steps: [],
    error: null,
  };
  const bundleDir = path.join(layout.bundles, id);
  return ok({ id, config, record, netnsDir, netnsName, network, cniBinDir, bundleDir, cgroupsPath: `/${netnsName}` });
}

interface FollowedRun {
  readonly report: Progress;
  /** What the steps acquired (or, registered first, planned), in the order they ended. */
  readonly held: HeldResource[];
  /** The steps whose cleanup released them. */
  readonly released: Set<string>;
  readonly onStep: (e: StepEvent) => void;
  readonly onEvent: (e: TransactionEvent) => void;
}

/** Progress, plus what is held and what was released: the record of a failed run needs both. */
function follow(report: Progress): FollowedRun {
  const held: HeldResource[] = [];
  const released = new Set<string>();
  return {
    report,
    held,
    released,
    onStep: (e) => {
      report.onStep(e);
      if ((e.type === "step:succeeded" || e.type === "step:failed") && e.resource !== undefined) held.push(e.resource);
    },
    onEvent: (e) => {
      report.onEvent(e);
      if (e.type === "cleanup:succeeded") released.add(e.label);
    },
  };
}

/** After a failed run: what its rollback could not release stays listed, NOTREADY, for rm. */
async function keepForRetry(ctx: RunnerContext, plan: RunPlan, run: FollowedRun, error: TransactionError) {
  const kept = await ctx.store.read(plan.id);
  const unreleased = run.held.filter((r) => !run.released.has(r.step));
  if (kept === undefined && unreleased.length === 0) return;
  // When the record is gone but the name is not (release-name, which runs after delete-record,
  // failed), a record is written again to hold it: otherwise nothing would ever retry its release
  // and the name would stay taken.
  await ctx.store.write({
    ...(kept ?? plan.record),
    state: "NOTREADY",
    resources: inStepGraph(unreleased),
    steps: [...run.report.log],
    error: error.message,
  });
}
