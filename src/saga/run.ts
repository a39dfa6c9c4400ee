// Running a saga: its steps in one transaction, as a graph (R13; a chain unless steps name `after`).
// Resource steps go through the run's journal writer (intent before acquiring, acquired after).
// The steps' compensations and releases are kept until the steps are over and then registered in
// the order R11 unwinds them, each naming the ones it waits for (R12); a run that ends Ok commits,
// and only then does what it holds pass to the caller.
import { randomUUID } from "node:crypto";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import type { TransactionError } from "../engine/errors.js";
import { checkConcurrency, transaction } from "../engine/transaction.js";
import type { Transaction } from "../engine/types.js";
import { SagaError, type ConcurrentStepFailure } from "./errors.js";
import { sagaChannel } from "./events.js";
import { deferGraph, nearestKept, unlessPrevious, type Edges } from "./graph.js";
import { JournalWriter } from "./journal-writer.js";
import { runScheduled, type Failed } from "./schedule.js";
import { runStep, type Ctx, type Registration, type Run, type Step } from "./step.js";
import type { HeldResource, SagaRunOptions, SagaSuccess, StepEvent } from "./types.js";

export type { Ctx, Step } from "./step.js";

/** Runs `steps` on `input` in a transaction; on success, the held resources pass to the caller. */
export function runSaga(
  saga: string,
  steps: readonly Step[],
  input: unknown,
  options: SagaRunOptions,
): ResultAsync<SagaSuccess<Ctx>, TransactionError> {
  const { journal, onStep, ...txOptions } = options;
  const limit = checkConcurrency(`saga "${saga}": options.concurrency`, options.concurrency);
  const writer = new JournalWriter(journal, randomUUID());
  const { chain, edges } = shapeOf(steps);
  const stop = chain ? undefined : new AbortController();
  const run: Run = {
    saga,
    steps,
    edges,
    chain,
    signal: stop?.signal ?? neverAborted,
    writer,
    ctx: { input },
    described: new Map(),
    registered: [],
    held: [],
    intended: new Set(),
    emit: observer(onStep),
  };
  const others: ConcurrentStepFailure[] = [];
  const result = transaction((tx) => runBody(run, tx, { stop, caller: txOptions.signal, limit }, others), {
    ...txOptions,
    name: saga,
  });
  const reported = (r: Result<SagaSuccess<Ctx>, TransactionError>): Result<SagaSuccess<Ctx>, TransactionError> =>
    r.isErr() && others.length > 0 ? err(new SagaError(r.error, others)) : r;
  // Without a journal there is nothing to commit: the transaction's result is the run's (a
  // chain has no other failures to report).
  if (journal === undefined) return chain ? result : new ResultAsync((async () => reported(await result))());
  const { signal: _callers, ...rollbackOptions } = txOptions;
  // Then the commit (R11), what the unwind retained, the end, and any record that could not be written.
  return new ResultAsync(
    (async () =>
      reported(await writer.finish(await handOver(await result, run, { ...rollbackOptions, name: saga }))))(),
  );
}

const shapes = new WeakMap<readonly Step[], { readonly chain: boolean; readonly edges: Edges }>();

/** The graph's edges, and whether it is a chain (every step on the one just before): once per saga. */
function shapeOf(steps: readonly Step[]): { readonly chain: boolean; readonly edges: Edges } {
  let shape = shapes.get(steps);
  if (shape === undefined) {
    const chain = steps.every((s, k) =>
      k === 0 ? s.after.length === 0 : s.after.length === 1 && s.after[0] === k - 1,
    );
    shape = { chain, edges: steps.map((s) => s.after) };
    shapes.set(steps, shape);
  }
  return shape;
}

function observer(onStep: ((event: StepEvent) => void) | undefined): (event: StepEvent) => void {
  return (event) => {
    try {
      onStep?.(event);
    } catch {
      // An observer must never change what the saga does.
    }
    if (sagaChannel.hasSubscribers) sagaChannel.publish(event);
  };
}

/** The transaction's body: the steps, then their cleanups, registered in the order R11 unwinds them. */
async function runBody(
  run: Run,
  tx: Transaction,
  {
    stop,
    caller,
    limit,
  }: { stop: AbortController | undefined; caller: AbortSignal | undefined; limit: number | undefined },
  others: ConcurrentStepFailure[],
): Promise<Result<SagaSuccess<Ctx>, unknown>> {
  let succeeded = false;
  // A graph's steps see the caller's abort through the run's own signal (no caller's: none to see).
  const forward = (): void => stop?.abort(caller?.reason);
  if (stop === undefined) run.signal = tx.signal;
  else caller?.addEventListener("abort", forward, { once: true });
  try {
    await run.writer.begin(run.saga);
    const failures = stop === undefined ? await runChain(run, tx.signal) : await runGraph(run, stop, caller, limit);
    const [first, ...rest] = failures;
    for (const f of rest) others.push(reportOf(run, f));
    if (first !== undefined) {
      // A step's own err is the body's err (typed); anything it threw, the body throws.
      if (first.thrown) throw first.error;
      return err(first.error);
    }
    succeeded = true;
    return ok({ context: finalContext(run), held: heldOf(run), journalFailures: run.writer.failures });
  } finally {
    caller?.removeEventListener("abort", forward);
    registerUndo(tx, run, succeeded);
  }
}

/** A chain: one step at a time, as before R13 (the scheduler would do the same, with more promises). */
async function runChain(run: Run, signal: AbortSignal): Promise<readonly Failed[]> {
  for (const step of run.steps) {
    // An abort mid-saga stops it before its next step, as an aborted signal stops a transaction
    // before its body: the reason is the cause, a throw.
    if (signal.aborted) return [{ step: undefined, error: signal.reason, thrown: true }];
    const outcome = await runStep(run, step);
    if (outcome.isErr()) return [{ step: step.index, ...outcome.error }];
  }
  return [];
}

/** A graph: the scheduler (R13). */
function runGraph(
  run: Run,
  stop: AbortController,
  caller: AbortSignal | undefined,
  limit: number | undefined,
): Promise<readonly Failed[]> {
  return runScheduled({
    edges: run.edges,
    limit: limit ?? Number.POSITIVE_INFINITY,
    callerSignal: caller,
    start: (k) => runStep(run, run.steps[k]!),
    onFirstFailure: (first) => stop.abort(stoppedBy(run, first)),
  });
}

/** Why the steps in flight are asked to stop. */
function stoppedBy(run: Run, first: Failed): unknown {
  if (first.step === undefined) return first.error;
  return new Error(`saga "${run.saga}": step "${run.steps[first.step]!.name}" failed; the run is stopping`, {
    cause: first.error,
  });
}

function reportOf(run: Run, f: Failed): ConcurrentStepFailure {
  return {
    step: f.step === undefined ? "" : run.steps[f.step]!.name,
    error: f.error,
    origin: f.thrown ? "throw" : "err",
  };
}

/** Every output, in step order. */
function finalContext(run: Run): Ctx {
  if (run.chain) return run.ctx;
  const ctx: Ctx = { input: run.ctx.input };
  for (const s of run.steps) ctx[s.name] = run.ctx[s.name];
  return ctx;
}

/** What the run hands over: its on-error resources in step order, each naming what it was built on. */
function heldOf(run: Run): { saga: string; tx: string; resources: HeldResource[] } {
  const resources: HeldResource[] = [];
  if (run.chain) {
    for (const held of run.held) if (held !== undefined) resources.push(held);
    return { saga: run.saga, tx: run.writer.tx, resources };
  }
  run.held.forEach((held, k) => {
    if (held === undefined) return;
    const on = nearestKept(run.edges, k, (d) => run.held[d] !== undefined).map((d) => run.steps[d]!.name);
    const after = unlessPrevious(on, resources.at(-1)?.step);
    resources.push(after === undefined ? held : { ...held, after });
  });
  return { saga: run.saga, tx: run.writer.tx, resources };
}

// The run's signal until the body sets it.
const neverAborted = new AbortController().signal;

const onlyOn = (run: Run, on: "error" | "always"): (Registration | undefined)[] =>
  run.steps.map((_, k) => (run.registered[k]?.options.on === on ? run.registered[k] : undefined));

/**
 * R11, R12: after a failed step, every compensation waits for those of the steps built on it.
 * When every step succeeded, the on-error ones are registered first, and the on-always ones
 * that depend on no other are registered as built on every on-error one nothing else depends on:
 * so every on-error cleanup waits for every on-always one, and runs (R2) only if one of them
 * failed or set retErr. A chain names nothing: plain LIFO, exactly as before R12.
 */
function registerUndo(tx: Transaction, run: Run, succeeded: boolean): void {
  if (run.chain) {
    // A chain's graph is its order: plain LIFO, registered as before R12.
    for (const r of run.registered)
      if (r !== undefined && (!succeeded || r.options.on === "error")) tx.defer(r.fn, r.options);
    if (succeeded) for (const r of run.registered) if (r?.options.on === "always") tx.defer(r.fn, r.options);
    return;
  }
  if (!succeeded) {
    deferGraph(tx, run.edges, run.registered);
    return;
  }
  const onError = deferGraph(tx, run.edges, onlyOn(run, "error"));
  deferGraph(tx, run.edges, onlyOn(run, "always"), onError.sinks, onError.last);
}

/**
 * R11: a run that ended Ok commits; the commit is a promise, durable before the caller owns
 * anything. If it cannot be written, the run is rolled back: its on-error cleanups run then, in
 * reverse dependency order, with the journal's error as the cause (a throw), exactly as the
 * unwind would have run them had the run failed. Its on-always cleanups have already run.
 */
async function handOver(
  result: Result<SagaSuccess<Ctx>, TransactionError>,
  run: Run,
  options: Omit<SagaRunOptions, "journal" | "onStep" | "signal"> & { readonly name: string },
): Promise<Result<SagaSuccess<Ctx>, TransactionError>> {
  if (result.isErr()) return result;
  try {
    await run.writer.commit(result.value.held.resources.map((r) => r.step));
    return result;
  } catch (error) {
    // Without the caller's signal: an aborted one would keep the rollback's body from running.
    return transaction((tx): Result<never, never> => {
      deferGraph(tx, run.edges, onlyOn(run, "error"));
      throw error;
    }, options);
  }
}
