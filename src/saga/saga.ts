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

/** The context `C` after step `N` succeeded: its output `O` under the step's name. */
export type Add<C, N extends string, O> = C & { readonly [K in N]: O };

/**
 * The step graph as types (R13): each declared step's name -> itself and every step it depends
 * on, transitively. A saga typed without it (`Saga<I, C, E>`) has the index signature: its steps
 * see the whole context C, as before R13.
 */
export type StepGraph = { readonly [step: string]: string };

/** The names `after` may list: the steps declared so far. */
export type DeclaredStep<G extends StepGraph> = Extract<keyof G, string>;

/**
 * What a step that depends on the steps `D` sees: the input and the outputs of `D` and of what
 * they depend on, transitively; reading any other step's output does not compile (R13: it may
 * not have run yet).
 */
export type StepContext<I, C, G extends StepGraph, D extends string> = string extends keyof G
  ? C
  : [D] extends [never]
    ? { readonly input: I }
    : { readonly input: I } & Pick<C, Extract<G[D], keyof C>>;

/** The step graph `G` with step `N` added, depending on `D` and (transitively) on what they depend on. */
export type Widen<G extends StepGraph, N extends string, D extends string> = G & { readonly [K in N]: N | G[D] };

// "input" holds the input; "__proto__" would set the context's prototype instead of a field.
const reserved = new Set(["input", "__proto__"]);

/** A saga under construction: each `step` / `resource` returns a new builder with a wider context. */
export class Saga<I, C, E, G extends StepGraph = StepGraph, L extends string = string> {
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

  /**
   * A plain step: `run`, and optionally `compensate` (in-process only: not journalled). `after`
   * names the steps it depends on (default: the one declared just before it).
   */
  step<
    N extends string,
    R,
    F extends boolean = false,
    const A extends readonly DeclaredStep<G>[] = readonly [Extract<L, DeclaredStep<G>>],
  >(
    name: N,
    def: StepDefinition<StepContext<I, C, G, A[number]>, R, F> & {
      readonly after?: A;
      readonly when: (ctx: StepContext<I, C, G, A[number]>) => boolean;
    },
  ): Saga<I, Add<C, N, StepOutput<R> | undefined>, E | StepError<R>, Widen<G, N, A[number]>, N>;
  step<
    N extends string,
    R,
    F extends boolean = false,
    const A extends readonly DeclaredStep<G>[] = readonly [Extract<L, DeclaredStep<G>>],
  >(
    name: N,
    def: StepDefinition<StepContext<I, C, G, A[number]>, R, F> & { readonly after?: A; readonly when?: undefined },
  ): Saga<I, Add<C, N, StepOutput<R>>, E | StepError<R>, Widen<G, N, A[number]>, N>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the overloads above are the typed API
  step(name: string, def: StepDefinition<any, unknown, boolean>): Saga<I, unknown, unknown, never, never> {
    const where = this.#check(name, def);
    if (typeof def.run !== "function") throw new TypeError(`${where}: run must be a function`);
    if (def.compensate !== undefined && typeof def.compensate !== "function") {
      throw new TypeError(`${where}: compensate must be a function`);
    }
    return new Saga(this.#name, [
      ...this.#steps,
      {
        type: "plain",
        name,
        def: def as StepDefinition<Ctx, unknown, boolean>,
        ...this.#place(where, name, def.after),
      },
    ]);
  }

  /**
   * A resource step: planned, journalled (intent, then acquired), released through its adapter.
   * `after` as for `step`.
   */
  resource<
    N extends string,
    S,
    Res,
    D,
    AE,
    const A extends readonly DeclaredStep<G>[] = readonly [Extract<L, DeclaredStep<G>>],
  >(
    name: N,
    adapter: ResourceAdapter<S, Res, D, AE>,
    def: ResourceStepDefinition<StepContext<I, C, G, A[number]>, S> & {
      readonly after?: A;
      readonly when: (ctx: StepContext<I, C, G, A[number]>) => boolean;
    },
  ): Saga<I, Add<C, N, Res | undefined>, E | AE, Widen<G, N, A[number]>, N>;
  resource<
    N extends string,
    S,
    Res,
    D,
    AE,
    const A extends readonly DeclaredStep<G>[] = readonly [Extract<L, DeclaredStep<G>>],
  >(
    name: N,
    adapter: ResourceAdapter<S, Res, D, AE>,
    def: ResourceStepDefinition<StepContext<I, C, G, A[number]>, S> & { readonly after?: A; readonly when?: undefined },
  ): Saga<I, Add<C, N, Res>, E | AE, Widen<G, N, A[number]>, N>;
  resource(
    name: string,
    adapter: ResourceAdapter<unknown, unknown, JsonValue, unknown>,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the overloads above are the typed API
    def: ResourceStepDefinition<any, unknown>,
  ): Saga<I, unknown, unknown, never, never> {
    const where = this.#check(name, def);
    if (typeof adapter !== "object" || adapter === null || typeof adapter.kind !== "string") {
      throw new TypeError(`saga "${this.#name}": resource "${name}": adapter must be a resource adapter with a kind`);
    }
    if (typeof def.spec !== "function")
      throw new TypeError(`saga "${this.#name}": resource "${name}": spec must be a function`);
    return new Saga(this.#name, [
      ...this.#steps,
      {
        type: "resource",
        name,
        adapter,
        def: def as ResourceStepDefinition<Ctx, unknown>,
        ...this.#place(where, name, def.after),
      },
    ]);
  }

  /** The steps in order, each with the steps it depends on (R13): what `steps` printing shows. */
  get graph(): readonly { readonly name: string; readonly after: readonly string[] }[] {
    return this.#steps.map((s) => ({ name: s.name, after: s.after.map((d) => this.#steps[d]!.name) }));
  }

  /** Resolves `after` (R13): names of earlier-declared steps; default the one just before. */
  #place(where: string, name: string, after: unknown): { index: number; after: number[]; closure: number[] } {
    const steps = this.#steps;
    let deps: number[];
    if (after === undefined) {
      deps = steps.length === 0 ? [] : [steps.length - 1];
    } else {
      if (!Array.isArray(after)) throw new TypeError(`${where}: after must be an array of step names`);
      deps = (after as unknown[]).map((n) => {
        const k = steps.findIndex((s) => s.name === n);
        if (k < 0) {
          throw new TypeError(
            `${where}: after names ${JSON.stringify(n)}, which is not a step declared before ${JSON.stringify(name)}`,
          );
        }
        return k;
      });
      deps = [...new Set(deps)].sort((a, b) => a - b);
    }
    const closure = new Set<number>(deps);
    for (const d of deps) for (const c of steps[d]!.closure) closure.add(c);
    return { index: steps.length, after: deps, closure: [...closure].sort((a, b) => a - b) };
  }

  /** Checks what every step takes; returns how errors name the step. */
  #check(name: string, def: StepOptions<Ctx> | undefined): string {
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
    return where;
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
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no step declared yet: the empty graph
export function saga<I = void>(name: string): Saga<I, { readonly input: I }, never, {}, never> {
  if (typeof name !== "string" || name === "") throw new TypeError("saga: name must be a non-empty string");
  return new Saga(name, []);
}
