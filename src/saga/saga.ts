// saga(): a typed builder of steps on top of transaction(). Each step's output joins the context
// the later steps see; resource steps are journalled so that recover() can undo them after a crash.
// Running the steps is run.ts's.
import type { ResultAsync } from "neverthrow";
import { checkTimeout } from "../engine/cleanup.js";
import type { TransactionError } from "../engine/errors.js";
import type { JsonValue } from "../internal/json.js";
import type { ResourceAdapter } from "../resources/adapter.js";
import { runSaga, type Ctx, type Step } from "./run.js";
import type {
  ResourceStepDefinition,
  SagaRunOptions,
  SagaSuccess,
  StepDefinition,
  StepError,
  StepOptions,
  StepOutput,
} from "./types.js";

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
    // Checked here, not when the run registers the compensation (after its steps, R11).
    if (def.guard !== undefined && typeof def.guard !== "boolean")
      throw new TypeError(`${where}: guard must be a boolean`);
    checkTimeout(where, "timeoutMs", def.timeoutMs);
  }

  /**
   * Runs the steps in a transaction. Ok: every step and every on-always compensation succeeded,
   * and the held resources are the caller's (R11); Err: nothing is handed over.
   */
  run(input: I, options: SagaRunOptions = {}): ResultAsync<SagaSuccess<C>, TransactionError<E>> {
    return runSaga(this.#name, this.#steps, input, options) as unknown as ResultAsync<
      SagaSuccess<C>,
      TransactionError<E>
    >;
  }
}

/** Starts a saga: `saga<Input>("run-pod").step(...).resource(...).run(input, options)`. */
export function saga<I = void>(name: string): Saga<I, { readonly input: I }, never> {
  if (typeof name !== "string" || name === "") throw new TypeError("saga: name must be a non-empty string");
  return new Saga(name, []);
}
