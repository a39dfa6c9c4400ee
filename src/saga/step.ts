// One step of a saga run: its context, its run (or acquisition, journalled), its events, and the
// compensation or release it leaves to the rollback.
import { err, ok, type Result } from "neverthrow";
import { isResult, isThenable } from "../engine/deadline.js";
import type { Cleanup, CleanupOptions } from "../engine/types.js";
import type { JsonValue } from "../internal/json.js";
import type { ResourceAdapter } from "../resources/adapter.js";
import { compensationContext } from "./compensation-context.js";
import { nearestKept, type Edges } from "./graph.js";
import type { JournalWriter } from "./journal-writer.js";
import { releaseRecorded } from "./release-recorded.js";
import type { HeldResource, ResourceStepDefinition, StepDefinition, StepEvent, StepOptions } from "./types.js";

/** The context the steps see: the input and the outputs of the steps they depend on, by step name. */
export type Ctx = Record<string, unknown>;

/** Where a step sits in the graph (R13), resolved by the builder. */
interface Placed {
  readonly index: number;
  /** Its direct dependencies, by index (all earlier). */
  readonly after: readonly number[];
  /** Its dependencies, transitively, by index: the outputs its context holds. */
  readonly closure: readonly number[];
}
export type PlainStep = Placed & {
  readonly type: "plain";
  readonly name: string;
  readonly def: StepDefinition<Ctx, unknown, boolean>;
};
export type ResourceStep = Placed & {
  readonly type: "resource";
  readonly name: string;
  readonly adapter: ResourceAdapter<unknown, unknown, JsonValue, unknown>;
  readonly def: ResourceStepDefinition<Ctx, unknown>;
};
/** A step as the builder keeps it. */
export type Step = PlainStep | ResourceStep;

/** A step's compensation or release, kept until the steps are over (R11 orders the registrations). */
export interface Registration {
  readonly fn: Cleanup;
  readonly options: CleanupOptions & { readonly on: "error" | "always" };
}

/**
 * How a step (or its adapter) failed: it returned an err (`thrown: false`: the saga's typed body
 * error, origin "err") or threw / rejected (`thrown: true`: rethrown by the body, origin "throw",
 * as `transaction` reports a throw).
 */
export interface StepFailure {
  readonly error: unknown;
  readonly thrown: boolean;
}
export type StepOutcome = Result<unknown, StepFailure>;

/** What the steps of one run share. */
export interface Run {
  readonly saga: string;
  readonly steps: readonly Step[];
  readonly edges: Edges;
  /** Every step depends on the one declared just before it: one shared context, as before R13. */
  readonly chain: boolean;
  /**
   * What the steps get: a chain's, the caller's (as before R13: no step is in flight when one
   * fails); a graph's, aborted with the caller's signal or when a step failed (R13). Set by the body.
   */
  signal: AbortSignal;
  readonly writer: JournalWriter;
  /** The input and every output so far. */
  readonly ctx: Ctx;
  /** Each resource step's resource, as its step events report it. */
  readonly described: Map<string, HeldResource>;
  /** Each step's compensation or release, by step index, once registered. */
  readonly registered: (Registration | undefined)[];
  /** The on-error resource each step acquired (what a successful run hands over), by step index. */
  readonly held: (HeldResource | undefined)[];
  /** The resource steps whose intent was written, by index (the journal's graph). */
  readonly intended: Set<number>;
  readonly emit: (event: StepEvent) => void;
}

/** What step `step` sees: a chain's steps share the whole context; otherwise only what it depends on. */
function contextOf(run: Run, step: Step): Ctx {
  if (run.chain) return run.ctx;
  const view: Ctx = { input: run.ctx.input };
  for (const d of step.closure) {
    const name = run.steps[d]!.name;
    view[name] = run.ctx[name];
  }
  return view;
}

/** Runs one step (or skips it), reporting it to the observer; its output joins the context. */
export async function runStep(run: Run, step: Step): Promise<StepOutcome> {
  const { name, def } = step;
  const ctx = contextOf(run, step);
  if (def.when !== undefined && !def.when(ctx)) {
    run.ctx[name] = undefined;
    run.emit({ type: "step:skipped", saga: run.saga, step: name });
    return ok(undefined);
  }
  run.emit({ type: "step:started", saga: run.saga, step: name });
  const startedAt = performance.now();
  const outcome = step.type === "plain" ? await runPlain(run, step, ctx) : await runResource(run, step, ctx);
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

async function runPlain(run: Run, step: PlainStep, ctx: Ctx): Promise<StepOutcome> {
  const { name, def } = step;
  let output: unknown;
  const register = (): void => {
    if (def.compensate === undefined) return;
    const fn: Cleanup = (cleanup) => def.compensate?.(output, compensationContext(cleanup), ctx);
    run.registered[step.index] = { fn, options: cleanupOptions(name, def) };
  };
  if (def.registerFirst === true) register();
  const outcome = await settle(() => def.run(ctx, { signal: run.signal, name }));
  if (outcome.isOk()) {
    output = outcome.value;
    if (def.registerFirst !== true) register();
  }
  return outcome;
}

async function runResource(run: Run, step: ResourceStep, ctx: Ctx): Promise<StepOutcome> {
  const { name, adapter, def } = step;
  const planned = await settle(() => adapter.plan(def.spec(ctx)));
  if (planned.isErr()) return planned;
  const guard = def.guard ?? false;
  const intended: HeldResource = { step: name, kind: adapter.kind, guard, description: planned.value as JsonValue };
  // R12 in the journal: the resource steps it was built on (a chain writes nothing new).
  const after = run.chain
    ? undefined
    : nearestKept(run.edges, step.index, (d) => run.intended.has(d)).map((d) => run.steps[d]!.name);
  // A promise: durable before acquiring, so that after a crash the plan names what may exist.
  // If it cannot be written, the journal's error fails the step as a throw (no step's typed error).
  const written = await settle(() => run.writer.intent(intended, after));
  if (written.isErr()) return written;
  run.intended.add(step.index);
  const acquiredAs = registerRelease(run, step, intended);
  const outcome = await settle(() => adapter.acquire(intended.description, { signal: run.signal }));
  if (outcome.isErr()) {
    // Without registerFirst, a failed acquisition holds nothing (the adapter cleans up after
    // itself); journal it so that recovery does not release the plan again and again.
    if (def.registerFirst !== true) await run.writer.released(name);
    return outcome;
  }
  acquiredAs(outcome.value);
  return recordAcquired(run, step, outcome.value, intended.description);
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
      const desc = "resource" in got ? adapter.describe(got.resource, intended.description) : intended.description;
      return releaseRecorded(run.writer, name, target, desc, cleanup);
    };
    run.registered[step.index] = { fn, options: cleanupOptions(name, def) };
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
async function recordAcquired(run: Run, step: ResourceStep, resource: unknown, plan: JsonValue): Promise<StepOutcome> {
  const { name, adapter, def } = step;
  const description = await settle(() => adapter.describe(resource, plan));
  if (description.isErr()) return description;
  const desc = description.value as JsonValue;
  // A fact, not fsynced on its own (group commit): losing it leaves the intent, whose plan releases the same.
  await run.writer.acquired(name, desc);
  const held: HeldResource = { step: name, kind: adapter.kind, guard: def.guard ?? false, description: desc };
  run.described.set(name, held);
  if ((def.on ?? "error") === "error") run.held[step.index] = held;
  return ok(resource);
}
