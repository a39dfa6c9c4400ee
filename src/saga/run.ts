// Running a saga: its steps in one transaction, each output joining the context the later steps
// see. Resource steps go through the run's journal writer (intent before acquiring, acquired
// after). The steps' compensations and releases are kept until the steps are over and then
// registered in the order R11 unwinds them; a run that ends Ok commits, and only then does what it
// holds pass to the caller.
import { randomUUID } from "node:crypto";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import { isResult, isThenable } from "../engine/deadline.js";
import type { TransactionError } from "../engine/errors.js";
import { transaction } from "../engine/transaction.js";
import type { Cleanup, CleanupOptions, Transaction } from "../engine/types.js";
import type { JsonValue } from "../internal/json.js";
import type { ResourceAdapter } from "../resources/adapter.js";
import { compensationContext } from "./compensation-context.js";
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

/** A step's compensation or release, kept until the steps are over (R11 orders the registrations). */
interface Registration {
  readonly fn: Cleanup;
  readonly options: CleanupOptions & { readonly on: "error" | "always" };
}

/**
 * How a step (or its adapter) failed: it returned an err (`thrown: false`: the saga's typed body
 * error, origin "err") or threw / rejected (`thrown: true`: rethrown by the body, origin "throw",
 * as `transaction` reports a throw).
 */
interface StepFailure {
  readonly error: unknown;
  readonly thrown: boolean;
}
type StepOutcome = Result<unknown, StepFailure>;

/** What the steps of one run share. */
interface Run {
  readonly saga: string;
  /** The caller's signal (the transaction's). */
  readonly signal: AbortSignal;
  readonly writer: JournalWriter;
  readonly ctx: Ctx;
  /** The on-error resources acquired so far: what a successful run hands over. */
  readonly held: HeldResource[];
  /** Each resource step's resource, as its step events report it. */
  readonly described: Map<string, HeldResource>;
  /** Every compensation and release so far, in step order. */
  readonly registered: Registration[];
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
  const registered: Registration[] = [];
  const emit = observer(onStep);
  const result = transaction(
    (tx) => {
      const run: Run = {
        saga,
        signal: tx.signal,
        writer,
        ctx: { input },
        held: [],
        described: new Map(),
        registered,
        emit,
      };
      return runBody(run, tx, steps);
    },
    { ...txOptions, name: saga },
  );
  // Without a journal there is nothing to commit: the transaction's result is the run's.
  if (journal === undefined) return result;
  const { signal: _callers, ...rollbackOptions } = txOptions;
  // Then the commit (R11), what the unwind retained, the end, and any record that could not be written.
  return new ResultAsync(
    (async () => writer.finish(await handOver(await result, writer, registered, { ...rollbackOptions, name: saga })))(),
  );
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

/** The transaction's body: the steps, then their cleanups, registered in the order R11 unwinds them. */
async function runBody(run: Run, tx: Transaction, steps: readonly Step[]): Promise<Result<SagaSuccess<Ctx>, unknown>> {
  let succeeded = false;
  try {
    const outcome = await runSteps(run, steps);
    succeeded = outcome.isOk();
    return outcome;
  } finally {
    // R11: after a failed step, in step order (the unwind is plain LIFO); when every step
    // succeeded, the on-error ones first, so that every on-always cleanup runs before any of
    // them, and they run (R2) only if an on-always cleanup failed or set retErr.
    for (const r of run.registered) if (!succeeded || r.options.on === "error") tx.defer(r.fn, r.options);
    if (succeeded) for (const r of run.registered) if (r.options.on === "always") tx.defer(r.fn, r.options);
  }
}

async function runSteps(run: Run, steps: readonly Step[]): Promise<Result<SagaSuccess<Ctx>, unknown>> {
  await run.writer.begin(run.saga);
  for (const step of steps) {
    // An abort mid-saga stops it before its next step, as an aborted signal stops a transaction
    // before its body: the reason is the cause, a throw.
    if (run.signal.aborted) throw run.signal.reason;
    const outcome = await runStep(run, step);
    if (outcome.isErr()) {
      // A step's own err is the body's err (typed); anything it threw, the body throws.
      if (outcome.error.thrown) throw outcome.error.error;
      return err(outcome.error.error);
    }
  }
  const held = { saga: run.saga, tx: run.writer.tx, resources: run.held };
  return ok({ context: run.ctx, held, journalFailures: run.writer.failures });
}

/**
 * R11: a run that ended Ok commits; the commit is a promise, durable before the caller owns
 * anything. If it cannot be written, the run is rolled back: its on-error cleanups run then, in
 * reverse step order, with the journal's error as the cause (a throw), exactly as the unwind
 * would have run them had the run failed. Its on-always cleanups have already run.
 */
async function handOver(
  result: Result<SagaSuccess<Ctx>, TransactionError>,
  writer: JournalWriter,
  registered: readonly Registration[],
  options: Omit<SagaRunOptions, "journal" | "onStep" | "signal"> & { readonly name: string },
): Promise<Result<SagaSuccess<Ctx>, TransactionError>> {
  if (result.isErr()) return result;
  try {
    await writer.commit(result.value.held.resources.map((r) => r.step));
    return result;
  } catch (error) {
    // Without the caller's signal: an aborted one would keep the rollback's body from running.
    return transaction((tx): Result<never, never> => {
      for (const r of registered) if (r.options.on === "error") tx.defer(r.fn, r.options);
      throw error;
    }, options);
  }
}

/** Runs one step (or skips it), reporting it to the observer; its output joins the context. */
async function runStep(run: Run, step: Step): Promise<StepOutcome> {
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
    run.emit({ type: "step:failed", ...about, error: outcome.error.error });
    return outcome;
  }
  run.ctx[name] = outcome.value;
  run.emit({ type: "step:succeeded", ...about });
  return outcome;
}

/**
 * Settles what a step's run or an adapter operation produces: ok; its own err (`thrown: false`);
 * or a throw or rejection (`thrown: true`).
 */
async function settle(produce: () => unknown): Promise<StepOutcome> {
  try {
    let value = produce();
    if (isThenable(value)) value = await value;
    if (!isResult(value)) return ok(value);
    const result = value as Result<unknown, unknown>;
    return result.isOk() ? ok(result.value) : err({ error: result.error, thrown: false });
  } catch (error) {
    return err({ error, thrown: true });
  }
}

function cleanupOptions(name: string, def: StepOptions<Ctx>): Registration["options"] {
  return {
    label: name,
    on: def.on ?? "error",
    guard: def.guard ?? false,
    ...(def.timeoutMs === undefined ? {} : { timeoutMs: def.timeoutMs }),
  };
}

async function runPlain(run: Run, { name, def }: PlainStep): Promise<StepOutcome> {
  let output: unknown;
  const register = (): void => {
    if (def.compensate === undefined) return;
    const fn: Cleanup = (cleanup) => def.compensate?.(output, compensationContext(cleanup), run.ctx);
    run.registered.push({ fn, options: cleanupOptions(name, def) });
  };
  if (def.registerFirst === true) register();
  const outcome = await settle(() => def.run(run.ctx, { signal: run.signal, name }));
  if (outcome.isOk()) {
    output = outcome.value;
    if (def.registerFirst !== true) register();
  }
  return outcome;
}

async function runResource(run: Run, step: ResourceStep): Promise<StepOutcome> {
  const { name, adapter, def } = step;
  const planned = await settle(() => adapter.plan(def.spec(run.ctx)));
  if (planned.isErr()) return planned;
  const guard = def.guard ?? false;
  const intended: HeldResource = { step: name, kind: adapter.kind, guard, description: planned.value as JsonValue };
  // A promise: durable before acquiring, so that after a crash the plan names what may exist.
  // If it cannot be written, the journal's error fails the step as a throw (no step's typed error).
  const written = await settle(() => run.writer.intent(intended));
  if (written.isErr()) return written;
  const acquiredAs = registerRelease(run, step, intended);
  const outcome = await settle(() => adapter.acquire(intended.description, { signal: run.signal }));
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
    const fn: Cleanup = (cleanup) => {
      const desc = "resource" in got ? adapter.describe(got.resource) : intended.description;
      return releaseRecorded(run.writer, name, target, desc, cleanup);
    };
    run.registered.push({ fn, options: cleanupOptions(name, def) });
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
async function recordAcquired(run: Run, step: ResourceStep, resource: unknown): Promise<StepOutcome> {
  const { name, adapter, def } = step;
  const description = await settle(() => adapter.describe(resource));
  if (description.isErr()) return description;
  const desc = description.value as JsonValue;
  // A fact, not fsynced on its own (group commit): losing it leaves the intent, whose plan releases the same.
  await run.writer.acquired(name, desc);
  const held: HeldResource = { step: name, kind: adapter.kind, guard: def.guard ?? false, description: desc };
  run.described.set(name, held);
  if ((def.on ?? "error") === "error") run.held.push(held);
  return ok(resource);
}
