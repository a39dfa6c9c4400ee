// saga(): a typed builder of steps on top of transaction(). Each step's output joins the context
// the later steps see; resource steps are journalled so that recover() can undo them after a crash.
import { randomUUID } from "node:crypto";
import { err, ok, ResultAsync } from "neverthrow";
import type { TransactionError } from "../engine/errors.js";
import { JOURNAL_FORMAT_VERSION } from "../journal/records.js";
import type { ResourceAdapter, JsonValue } from "../resources/adapter.js";
import { releaseResource, settleToResult } from "../resources/release.js";
import { transaction } from "../engine/transaction.js";
import type { CleanupOptions, Transaction } from "../engine/types.js";
import type {
  Held,
  HeldResource,
  ResourceStepDefinition,
  SagaRunOptions,
  SagaSuccess,
  StepDefinition,
  StepError,
  StepEvent,
  StepOptions,
  StepOutput,
} from "./types.js";

type Ctx = Record<string, unknown>;

type Step =
  | { readonly type: "plain"; readonly name: string; readonly def: StepDefinition<Ctx, unknown, boolean> }
  | {
      readonly type: "resource";
      readonly name: string;
      readonly adapter: ResourceAdapter<unknown, unknown, JsonValue, unknown>;
      readonly def: ResourceStepDefinition<Ctx, unknown>;
    };

type Add<C, N extends string, O> = C & { readonly [K in N]: O };

// "input" holds the input; "__proto__" would set the context's prototype instead of a field.
const reserved = new Set(["input", "__proto__"]);

/** A saga under construction: each `step` / `resource` returns a new builder with a wider context. */
export class Saga<I, C, E> {
  readonly #name: string;
  readonly #steps: readonly Step[];

  /** @internal Use `saga(name)`. */
  constructor(name: string, steps: readonly Step[]) {
    this.#name = name;
    this.#steps = steps;
  }

  get name(): string {
    return this.#name;
  }

  /** The step names in order (what failure injection and progress output refer to). */
  get stepNames(): readonly string[] {
    return this.#steps.map((s) => s.name);
  }

  /** A plain step: `run`, and optionally `compensate` (in-process only: not journalled). */
  step<N extends string, R, F extends boolean = false>(
    name: N,
    def: StepDefinition<C, R, F> & { readonly when: (ctx: C) => boolean },
  ): Saga<I, Add<C, N, StepOutput<R> | undefined>, E | StepError<R>>;
  step<N extends string, R, F extends boolean = false>(
    name: N,
    def: StepDefinition<C, R, F> & { readonly when?: undefined },
  ): Saga<I, Add<C, N, StepOutput<R>>, E | StepError<R>>;
  step(name: string, def: StepDefinition<C, unknown, boolean>): Saga<I, unknown, unknown> {
    this.#check(name, def);
    if (typeof def.run !== "function")
      throw new TypeError(`saga "${this.#name}": step "${name}": run must be a function`);
    if (def.compensate !== undefined && typeof def.compensate !== "function") {
      throw new TypeError(`saga "${this.#name}": step "${name}": compensate must be a function`);
    }
    return new Saga(this.#name, [
      ...this.#steps,
      { type: "plain", name, def: def as unknown as StepDefinition<Ctx, unknown, boolean> },
    ]);
  }

  /** A resource step: planned, journalled (intent, then acquired), released through its adapter. */
  resource<N extends string, S, Res, D, AE>(
    name: N,
    adapter: ResourceAdapter<S, Res, D, AE>,
    def: ResourceStepDefinition<C, S> & { readonly when: (ctx: C) => boolean },
  ): Saga<I, Add<C, N, Res | undefined>, E | AE>;
  resource<N extends string, S, Res, D, AE>(
    name: N,
    adapter: ResourceAdapter<S, Res, D, AE>,
    def: ResourceStepDefinition<C, S> & { readonly when?: undefined },
  ): Saga<I, Add<C, N, Res>, E | AE>;
  resource(
    name: string,
    adapter: ResourceAdapter<unknown, unknown, JsonValue, unknown>,
    def: ResourceStepDefinition<C, unknown>,
  ): Saga<I, unknown, unknown> {
    this.#check(name, def);
    if (typeof adapter !== "object" || adapter === null || typeof adapter.kind !== "string") {
      throw new TypeError(`saga "${this.#name}": resource "${name}": adapter must be a resource adapter with a kind`);
    }
    if (typeof def.spec !== "function")
      throw new TypeError(`saga "${this.#name}": resource "${name}": spec must be a function`);
    return new Saga(this.#name, [
      ...this.#steps,
      { type: "resource", name, adapter, def: def as unknown as ResourceStepDefinition<Ctx, unknown> },
    ]);
  }

  #check(name: string, def: StepOptions<C> | undefined): void {
    const where = `saga "${this.#name}": step ${JSON.stringify(name)}`;
    if (typeof name !== "string" || name === "")
      throw new TypeError(`saga "${this.#name}": a step name must be a non-empty string`);
    if (reserved.has(name)) throw new TypeError(`${where}: the name is reserved`);
    if (this.#steps.some((s) => s.name === name)) throw new TypeError(`${where}: the name is used twice`);
    if (typeof def !== "object" || def === null) throw new TypeError(`${where}: the definition must be an object`);
    if (def.when !== undefined && typeof def.when !== "function")
      throw new TypeError(`${where}: when must be a function`);
    if (def.on !== undefined && def.on !== "error" && def.on !== "always")
      throw new TypeError(`${where}: on must be "error" or "always"`);
  }

  /** Runs the steps in a transaction; on success, ownership of the held resources passes to the caller. */
  run(input: I, options: SagaRunOptions = {}): ResultAsync<SagaSuccess<C>, TransactionError<E>> {
    const { journal, onStep, ...txOptions } = options;
    const sagaName = this.#name;
    const steps = this.#steps;
    const txId = randomUUID();
    const emit = (event: StepEvent): void => {
      try {
        onStep?.(event);
      } catch {
        // An observer must never change what the saga does.
      }
    };
    const body = async (tx: Transaction) => {
      const ctx: Ctx = { input };
      const held: HeldResource[] = [];
      const described = new Map<string, HeldResource>();
      if (journal !== undefined) {
        await journal.append(
          { v: JOURNAL_FORMAT_VERSION, tx: txId, t: "begin", name: sagaName, at: Date.now() },
          false,
        );
      }
      for (const step of steps) {
        const { name, def } = step;
        if (def.when !== undefined && !def.when(ctx)) {
          ctx[name] = undefined;
          emit({ type: "step:skipped", saga: sagaName, step: name });
          continue;
        }
        emit({ type: "step:started", saga: sagaName, step: name });
        const startedAt = performance.now();
        const outcome =
          step.type === "plain"
            ? await runPlain(tx, step.def, name, ctx)
            : await runResource(tx, step, ctx, txId, journal, held, described);
        const durationMs = performance.now() - startedAt;
        if (outcome.isErr()) {
          const planned = step.type === "resource" ? described.get(name) : undefined;
          emit({
            type: "step:failed",
            saga: sagaName,
            step: name,
            durationMs,
            error: outcome.error,
            ...(planned === undefined ? {} : { resource: planned }),
          });
          return err(outcome.error);
        }
        ctx[name] = outcome.value;
        const acquired = step.type === "resource" ? described.get(name) : undefined;
        emit({
          type: "step:succeeded",
          saga: sagaName,
          step: name,
          durationMs,
          ...(acquired === undefined ? {} : { resource: acquired }),
        });
      }
      // Commit before the transaction ends: if it cannot be made durable, the run rolls back.
      if (journal !== undefined) {
        await journal.append({ v: JOURNAL_FORMAT_VERSION, tx: txId, t: "commit", held: held.map((r) => r.step) }, true);
      }
      const handed: Held = { saga: sagaName, tx: txId, resources: held };
      return ok({ context: ctx, held: handed });
    };
    const result = transaction(body, { ...txOptions, name: sagaName });
    if (journal === undefined) return result as unknown as ResultAsync<SagaSuccess<C>, TransactionError<E>>;
    // After a failed run: the retained releases stay journalled, then the end of the unwind.
    const ended = (async () => {
      const r = await result;
      for (const kept of r.isErr() ? r.error.retained : []) {
        await journal
          .append({ v: JOURNAL_FORMAT_VERSION, tx: txId, t: "retained", step: kept.label }, false)
          .catch(() => undefined);
      }
      // The end of the run. After a commit it need not be durable: the commit already says who owns what.
      await journal.append({ v: JOURNAL_FORMAT_VERSION, tx: txId, t: "end" }, r.isErr()).catch(() => undefined);
      return r;
    })();
    return new ResultAsync(ended) as unknown as ResultAsync<SagaSuccess<C>, TransactionError<E>>;
  }
}

function cleanupOptions(name: string, def: StepOptions<Ctx>): CleanupOptions {
  return {
    label: name,
    on: def.on ?? "error",
    guard: def.guard ?? false,
    ...(def.timeoutMs === undefined ? {} : { timeoutMs: def.timeoutMs }),
  };
}

async function runPlain(tx: Transaction, def: StepDefinition<Ctx, unknown, boolean>, name: string, ctx: Ctx) {
  let output: unknown;
  const register = (): void => {
    if (def.compensate !== undefined)
      tx.defer((cleanup) => def.compensate?.(output, cleanup, ctx), cleanupOptions(name, def));
  };
  if (def.registerFirst === true) register();
  const outcome = await settleToResult(() => def.run(ctx, { signal: tx.signal, name }));
  if (outcome.isOk()) {
    output = outcome.value;
    if (def.registerFirst !== true) register();
  }
  return outcome;
}

async function runResource(
  tx: Transaction,
  step: Extract<Step, { type: "resource" }>,
  ctx: Ctx,
  txId: string,
  journal: SagaRunOptions["journal"],
  held: HeldResource[],
  described: Map<string, HeldResource>,
) {
  const { name, adapter, def } = step;
  const guard = def.guard ?? false;
  const planned = await settleToResult(() => adapter.plan(def.spec(ctx)));
  if (planned.isErr()) return planned;
  const plan = planned.value as JsonValue;
  if (journal !== undefined) {
    // Durable before acquiring: after a crash, the plan names what may exist.
    const written = await settleToResult(() =>
      journal.append(
        { v: JOURNAL_FORMAT_VERSION, tx: txId, t: "intent", step: name, kind: adapter.kind, guard, desc: plan },
        true,
      ),
    );
    if (written.isErr()) return written;
  }
  // Until the acquisition succeeds, a release (registerFirst) releases the plan.
  const got: { resource?: unknown } = {};
  const target = { adapter, kind: adapter.kind, step: name, tx: txId, journal };
  const register = (): void => {
    tx.defer(
      (cleanup) => releaseResource(target, "resource" in got ? adapter.describe(got.resource) : plan, cleanup),
      cleanupOptions(name, def),
    );
  };
  if (def.registerFirst === true) {
    register();
    described.set(name, { step: name, kind: adapter.kind, guard, description: plan });
  }
  const outcome = await settleToResult(() => adapter.acquire(plan, { signal: tx.signal }));
  if (outcome.isErr()) {
    // Without registerFirst, a failed acquisition holds nothing (the adapter cleans up after
    // itself); journal it so that recovery does not release the plan again and again.
    if (journal !== undefined && def.registerFirst !== true) {
      await journal
        .append({ v: JOURNAL_FORMAT_VERSION, tx: txId, t: "released", step: name }, false)
        .catch(() => undefined);
    }
    return outcome;
  }
  got.resource = outcome.value;
  if (def.registerFirst !== true) register();
  const description = await settleToResult(() => adapter.describe(got.resource));
  if (description.isErr()) return description;
  if (journal !== undefined) {
    // Not fsynced on its own (group commit): losing it leaves the intent, whose plan releases the same.
    const written = await settleToResult(() =>
      journal.append(
        { v: JOURNAL_FORMAT_VERSION, tx: txId, t: "acquired", step: name, desc: description.value as JsonValue },
        false,
      ),
    );
    if (written.isErr()) return written;
  }
  const resource: HeldResource = { step: name, kind: adapter.kind, guard, description: description.value as JsonValue };
  described.set(name, resource);
  if ((def.on ?? "error") === "error") held.push(resource);
  return outcome;
}

/** Starts a saga: `saga<Input>("run-pod").step(...).resource(...).run(input, options)`. */
export function saga<I = void>(name: string): Saga<I, { readonly input: I }, never> {
  if (typeof name !== "string" || name === "") throw new TypeError("saga: name must be a non-empty string");
  return new Saga(name, []);
}
