// Running a saga: its steps in one transaction, each output joining the context the later steps
// see. Resource steps go through the run's journal writer (intent before acquiring, acquired
// after); a successful run commits before its resources pass to the caller.
import { randomUUID } from "node:crypto";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import type { TransactionError } from "../engine/errors.js";
import { transaction } from "../engine/transaction.js";
import type { CleanupOptions, Transaction } from "../engine/types.js";
import type { JsonValue } from "../internal/json.js";
import type { ResourceAdapter } from "../resources/adapter.js";
import { settleToResult } from "../resources/release.js";
import { JournalWriter } from "./journal-writer.js";
import { releaseRecorded } from "./release-recorded.js";
import type {
  HeldResource,
  ResourceStepDefinition,
  SagaRunOptions,
  SagaSuccess,
  StepDefinition,
  StepEvent,
  StepOptions,
} from "./types.js";

/** The context the steps see: the input and every step's output, by step name. */
export type Ctx = Record<string, unknown>;

type PlainStep = { readonly type: "plain"; readonly name: string; readonly def: StepDefinition<Ctx, unknown, boolean> };
type ResourceStep = {
  readonly type: "resource";
  readonly name: string;
  readonly adapter: ResourceAdapter<unknown, unknown, JsonValue, unknown>;
  readonly def: ResourceStepDefinition<Ctx, unknown>;
};
/** A step as the builder keeps it. */
export type Step = PlainStep | ResourceStep;

/** What the steps of one run share. */
interface Run {
  readonly saga: string;
  readonly tx: Transaction;
  readonly writer: JournalWriter;
  readonly ctx: Ctx;
  /** The on-error resources acquired so far: what a successful run hands over. */
  readonly held: HeldResource[];
  /** Each resource step's resource, as its step events report it. */
  readonly described: Map<string, HeldResource>;
  readonly emit: (event: StepEvent) => void;
}

/** Runs `steps` on `input` in a transaction; on success, the held resources pass to the caller. */
export function runSaga(
  saga: string,
  steps: readonly Step[],
  input: unknown,
  options: SagaRunOptions,
): ResultAsync<SagaSuccess<Ctx>, TransactionError> {
  const { journal, onStep, ...txOptions } = options;
  const writer = new JournalWriter(journal, randomUUID());
  const emit = observer(onStep);
  const result = transaction(
    (tx) => runSteps({ saga, tx, writer, ctx: { input }, held: [], described: new Map(), emit }, steps),
    { ...txOptions, name: saga },
  );
  if (journal === undefined) return result;
  // After the unwind: what it retained, the end of the run, and any record that could not be written.
  return new ResultAsync((async () => writer.finish(await result))());
}

function observer(onStep: ((event: StepEvent) => void) | undefined): (event: StepEvent) => void {
  return (event) => {
    try {
      onStep?.(event);
    } catch {
      // An observer must never change what the saga does.
    }
  };
}

async function runSteps(run: Run, steps: readonly Step[]): Promise<Result<SagaSuccess<Ctx>, unknown>> {
  await run.writer.begin(run.saga);
  for (const step of steps) {
    const outcome = await runStep(run, step);
    if (outcome.isErr()) return err(outcome.error);
  }
  // Commit before the transaction ends: if it cannot be made durable, the run rolls back.
  await run.writer.commit(run.held.map((r) => r.step));
  const held = { saga: run.saga, tx: run.writer.tx, resources: run.held };
  return ok({ context: run.ctx, held, journalFailures: run.writer.failures });
}

/** Runs one step (or skips it), reporting it to the observer; its output joins the context. */
async function runStep(run: Run, step: Step): Promise<Result<unknown, unknown>> {
  const { name, def } = step;
  if (def.when !== undefined && !def.when(run.ctx)) {
    run.ctx[name] = undefined;
    run.emit({ type: "step:skipped", saga: run.saga, step: name });
    return ok(undefined);
  }
  run.emit({ type: "step:started", saga: run.saga, step: name });
  const startedAt = performance.now();
  const outcome = step.type === "plain" ? await runPlain(run, step) : await runResource(run, step);
  const durationMs = performance.now() - startedAt;
  // A failed step reports the resource its registered release will release (registerFirst).
  const resource = step.type === "resource" ? run.described.get(name) : undefined;
  const about = { saga: run.saga, step: name, durationMs, ...(resource === undefined ? {} : { resource }) };
  if (outcome.isErr()) {
    run.emit({ type: "step:failed", ...about, error: outcome.error });
    return outcome;
  }
  run.ctx[name] = outcome.value;
  run.emit({ type: "step:succeeded", ...about });
  return outcome;
}

function cleanupOptions(name: string, def: StepOptions<Ctx>): CleanupOptions {
  return {
    label: name,
    on: def.on ?? "error",
    guard: def.guard ?? false,
    ...(def.timeoutMs === undefined ? {} : { timeoutMs: def.timeoutMs }),
  };
}

async function runPlain(run: Run, { name, def }: PlainStep): Promise<Result<unknown, unknown>> {
  let output: unknown;
  const register = (): void => {
    if (def.compensate !== undefined)
      run.tx.defer((cleanup) => def.compensate?.(output, cleanup, run.ctx), cleanupOptions(name, def));
  };
  if (def.registerFirst === true) register();
  const outcome = await settleToResult(() => def.run(run.ctx, { signal: run.tx.signal, name }));
  if (outcome.isOk()) {
    output = outcome.value;
    if (def.registerFirst !== true) register();
  }
  return outcome;
}

async function runResource(run: Run, step: ResourceStep): Promise<Result<unknown, unknown>> {
  const { name, adapter, def } = step;
  const planned = await settleToResult(() => adapter.plan(def.spec(run.ctx)));
  if (planned.isErr()) return planned;
  const guard = def.guard ?? false;
  const intended: HeldResource = { step: name, kind: adapter.kind, guard, description: planned.value as JsonValue };
  // A promise: durable before acquiring, so that after a crash the plan names what may exist.
  const written = await settleToResult(() => run.writer.intent(intended));
  if (written.isErr()) return written;
  const acquiredAs = registerRelease(run, step, intended);
  const outcome = await settleToResult(() => adapter.acquire(intended.description, { signal: run.tx.signal }));
  if (outcome.isErr()) {
    // Without registerFirst, a failed acquisition holds nothing (the adapter cleans up after
    // itself); journal it so that recovery does not release the plan again and again.
    if (def.registerFirst !== true) await run.writer.released(name);
    return outcome;
  }
  acquiredAs(outcome.value);
  return recordAcquired(run, step, outcome.value);
}

/**
 * Registers the step's release: before acquiring with registerFirst (it then releases the plan
 * until the acquisition succeeds), otherwise once acquired. Returns what to call with the resource.
 */
function registerRelease(run: Run, step: ResourceStep, intended: HeldResource): (resource: unknown) => void {
  const { name, adapter, def } = step;
  const got: { resource?: unknown } = {};
  const target = { adapter, kind: adapter.kind };
  const register = (): void => {
    run.tx.defer(
      (cleanup) => {
        const desc = "resource" in got ? adapter.describe(got.resource) : intended.description;
        return releaseRecorded(run.writer, name, target, desc, cleanup);
      },
      cleanupOptions(name, def),
    );
  };
  if (def.registerFirst === true) {
    register();
    run.described.set(name, intended);
  }
  return (resource) => {
    got.resource = resource;
    if (def.registerFirst !== true) register();
  };
}

/** Describes what the step acquired, journals it, and keeps it for the hand-over. */
async function recordAcquired(run: Run, step: ResourceStep, resource: unknown): Promise<Result<unknown, unknown>> {
  const { name, adapter, def } = step;
  const description = await settleToResult(() => adapter.describe(resource));
  if (description.isErr()) return description;
  const desc = description.value as JsonValue;
  // A fact, not fsynced on its own (group commit): losing it leaves the intent, whose plan releases the same.
  await run.writer.acquired(name, desc);
  const held: HeldResource = { step: name, kind: adapter.kind, guard: def.guard ?? false, description: desc };
  run.described.set(name, held);
  if ((def.on ?? "error") === "error") run.held.push(held);
  return ok(resource);
}
