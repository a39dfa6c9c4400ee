// The saga's public shapes: step definitions, what a run returns, what it hands over.
import type { Result, ResultAsync } from "neverthrow";
import type { CleanupContext, CleanupReturn, TransactionOptions } from "../engine/types.js";
import type { JsonValue } from "../internal/json.js";
import type { Journal } from "../journal/journal.js";
import type { JournalWriteError } from "./journal-writer.js";

/** The value a step's run produces, unwrapping a Promise, Result or ResultAsync. */
export type StepOutput<R> = Awaited<R> extends infer X ? (X extends Result<infer T, unknown> ? T : X) : never;
/** The error a step's run can return as an err (throws are untyped, as everywhere in neverthrow). */
export type StepError<R> = Awaited<R> extends infer X ? (X extends Result<unknown, infer E> ? E : never) : never;

/** What a step's run receives besides the context. */
export interface StepRun {
  /**
   * The run's signal: aborted when the caller's is, and when another step failed (R13: the steps
   * in flight are asked to stop; what they acquired all the same joins the rollback).
   */
  readonly signal: AbortSignal;
  /** The step's name. */
  readonly name: string;
}

/** Options every step takes. */
export interface StepOptions<C> {
  /**
   * The earlier-declared steps this one depends on (R13): it starts once each has succeeded (or
   * was skipped), its context holds their outputs (and their dependencies'), and its compensation
   * runs before theirs. Default: the step declared just before it (a chain, as without `after`).
   * `[]`: none, it starts at once.
   */
  readonly after?: readonly string[];
  /** Run the step only when this says so (host network: no netns). A skipped step's output is undefined. */
  readonly when?: (ctx: C) => boolean;
  /** Skip (and retain) the compensation if an earlier one failed (R3). */
  readonly guard?: boolean;
  /** Register the compensation before running, for steps that can half-succeed and still fail (CNI ADD). */
  readonly registerFirst?: boolean;
  /** The compensation's deadline in ms. */
  readonly timeoutMs?: number;
  /** When the compensation runs: on error (default) or always. */
  readonly on?: "error" | "always";
}

export interface StepDefinition<C, R, F extends boolean> extends StepOptions<C> {
  readonly registerFirst?: F;
  /**
   * Does the step: `ctx` holds the input and the outputs it may see, `step` its name and the run's
   * signal. Its ok is the step's output.
   */
  run(ctx: C, step: StepRun): R;
  /** Undoes the step. With `registerFirst`, it also runs when `run` failed, with `undefined`. */
  compensate?(
    output: F extends true ? StepOutput<R> | undefined : StepOutput<R>,
    cleanup: CleanupContext,
    ctx: C,
  ): CleanupReturn;
}

export interface ResourceStepDefinition<C, S> extends StepOptions<C> {
  /** The adapter's spec, from what earlier steps produced. */
  spec(ctx: C): S;
}

/** A live resource the saga passed to its caller, as data a later call (or process) can release. */
export interface HeldResource {
  readonly step: string;
  readonly kind: string;
  readonly guard: boolean;
  readonly description: JsonValue;
  /**
   * The held resources (by step) this one was built on: it is released before them (R12).
   * Absent: the one listed just before it (a chain).
   */
  readonly after?: readonly string[];
}

/** Everything a successful saga run hands over: release it later with `releaseHeld`. */
export interface Held {
  readonly saga: string;
  /** The journal transaction id of the run. */
  readonly tx: string;
  /** In step order; released in reverse dependency order (R12), in reverse order for a chain. */
  readonly resources: readonly HeldResource[];
}

/** What a saga that succeeded returns: its context, what it hands over, and journal writes that failed. */
export interface SagaSuccess<C> {
  /** The input and every step's output, by step name. */
  readonly context: C;
  /** The resources whose ownership passes to the caller. */
  readonly held: Held;
  /**
   * Journal records that could not be written after what they record had happened (none without
   * a journal). They changed nothing: the run succeeded and `held` is the caller's; see
   * JournalWriter for why such a failure never fails a run.
   */
  readonly journalFailures: readonly JournalWriteError[];
}

/** Progress of the steps (the compensations report through `onEvent`, labelled by step name). */
export type StepEvent =
  | { readonly type: "step:started"; readonly saga: string; readonly step: string }
  | {
      readonly type: "step:succeeded";
      readonly saga: string;
      readonly step: string;
      readonly durationMs: number;
      /** For a resource step: what it acquired, as it would be handed over. */
      readonly resource?: HeldResource;
    }
  | {
      readonly type: "step:failed";
      readonly saga: string;
      readonly step: string;
      readonly durationMs: number;
      readonly error: unknown;
      /** For a registerFirst resource step: the planned resource its registered release will release. */
      readonly resource?: HeldResource;
    }
  | { readonly type: "step:skipped"; readonly saga: string; readonly step: string };

/** How a saga runs: the transaction options, concurrency, journal and step observer. */
export interface SagaRunOptions extends Omit<TransactionOptions, "name"> {
  /**
   * How many steps may run at once, and during the rollback how many compensations (R13).
   * Default: unbounded. A chain runs one at a time whatever it is.
   */
  readonly concurrency?: number;
  /** Journal the resource steps, so that `recover` can release them after a crash. */
  readonly journal?: Journal;
  /**
   * Called synchronously with each step's progress (started, succeeded with its duration and
   * resource, failed, skipped). A throw from it is ignored: an observer never changes the run.
   */
  readonly onStep?: (event: StepEvent) => void;
}

export type SagaResult<C, E> = ResultAsync<SagaSuccess<C>, import("../engine/errors.js").TransactionError<E>>;
