// Sagas obey the cleanup rules R1-R10 exactly like `transaction`: random sagas (plain and resource
// steps, compensations of every behaviour, guarded or not, registered first or not, skipped by
// `when`, a run failing at a random step) are run on fake time and compared with the reference
// model of test/model/model.ts. With a MemoryJournal attached the behaviour is the same, and
// the journal's fold says exactly what was released, failed, retained or is still held.
//
// How a saga maps onto the model: each step whose compensation gets registered is one cleanup, in
// step order (a failing step's only with registerFirst; skipped and later steps' never), except
// that a run whose steps all succeeded unwinds its on-always cleanups before its on-error ones
// (R11, the model's handOverOrder); the body ends ok when every step succeeds, err when one
// returns an err, throw when one throws or rejects (origin "throw", as in `transaction`). R8
// (dismiss) is the hand-over of `held` on success, R9 is checked by the engine tests (a saga
// registers only while its body runs), R10 has no saga form (steps are not generators).
import { fc, test } from "@fast-check/vitest";
import { flush, useRuleHarness } from "../model/harness.js";
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from "neverthrow";
import { describe, expect, vi } from "vitest";
import {
  CleanupTimeoutError,
  saga,
  type CleanupContext,
  type CleanupReturn,
  type HeldResource,
  type ResourceAdapter,
  type SagaRunOptions,
  type SagaSuccess,
  type StepEvent,
  type TransactionError,
} from "../../src/index.js";
import { MemoryJournal, recover } from "../../src/journal/index.js";
import {
  foldTransaction,
  needsRecovery,
  type JournalRecord,
  type JournalledResource,
} from "../../src/journal/records.js";
import {
  handOverOrder,
  labelOf,
  runModel,
  slowDelay,
  timeoutOf,
  type Behaviour,
  type CleanupSpec,
  type ModelOutcome,
  type Program,
  type ValueRef,
  type ValueShape,
} from "../model/model.js";

const RUNS = 100;

// ---------------------------------------------------------------------------------------------
// Saga programs

import { ALL, behaviourArb, FAILING, shapeArb, SUCCEEDING, type BehaviourKind } from "../model/arbitraries.js";
type FailHow = "err" | "errAsync" | "throw" | "reject";

interface StepSpec {
  readonly type: "plain" | "resource";
  readonly on: "error" | "always";
  readonly guard: boolean;
  readonly registerFirst: boolean;
  /** `when` returns false. */
  readonly skipped: boolean;
  /** Plain steps may have no compensation; a resource step always has its release. */
  readonly compensated: boolean;
  readonly timeoutMs: number | undefined;
  readonly behaviour: Behaviour;
}

interface SagaProgram {
  readonly steps: readonly StepSpec[];
  /** The step whose run (or acquisition) fails, if any. */
  readonly failAt: number | undefined;
  readonly failHow: FailHow;
  readonly failShape: ValueShape;
  readonly cleanupTimeoutMs: number | undefined;
  /**
   * How the chain is written (R12, R13 say each gives exactly R1-R11): `implicit` names no `after`;
   * `previous` names the step just before; `all` names every earlier step, so the steps and the
   * compensations go through the graph scheduler and the engine's graph unwind.
   */
  readonly form?: "implicit" | "previous" | "all" | undefined;
  readonly concurrency?: number | undefined;
}

/** A release gets no CleanupContext, so it cannot set retErr or see the caller's controller. */
const CONTEXT_ONLY: readonly BehaviourKind[] = ["setRetErr", "setRetErrThenThrow", "abortCaller"];

function chance(rate: number): fc.Arbitrary<boolean> {
  if (rate <= 0) return fc.constant(false);
  if (rate >= 1) return fc.constant(true);
  return fc.integer({ min: 0, max: 999 }).map((n) => n < rate * 1000);
}

interface Config {
  readonly behaviours: readonly BehaviourKind[];
  readonly guardRate?: number;
  readonly resourceRate?: number;
  readonly failRate?: number;
  readonly skipRate?: number;
  readonly ons?: readonly ("error" | "always")[];
  readonly timeouts?: boolean;
  readonly maxSteps?: number;
  /** Write the chain with explicit `after` and a concurrency bound (R12, R13). */
  readonly graphForms?: boolean;
}

function sagaArb(config: Config): fc.Arbitrary<SagaProgram> {
  const timeoutArb =
    config.timeouts === false
      ? fc.constant(undefined)
      : fc.option(fc.integer({ min: 2, max: 5000 }), { nil: undefined, freq: 2 });
  const stepArb: fc.Arbitrary<StepSpec> = fc.record({
    type: chance(config.resourceRate ?? 0.4).map((r): StepSpec["type"] => (r ? "resource" : "plain")),
    on: fc.constantFrom(...(config.ons ?? ["error", "error", "always"])),
    guard: chance(config.guardRate ?? 0.3),
    registerFirst: chance(0.3),
    skipped: chance(config.skipRate ?? 0.15),
    compensated: chance(0.85),
    timeoutMs: timeoutArb,
    behaviour: behaviourArb(config.behaviours),
  });
  return fc
    .record({
      steps: fc.array(stepArb, { maxLength: config.maxSteps ?? 6 }),
      fail: chance(config.failRate ?? 0.5),
      failAt: fc.nat(),
      failHow: fc.constantFrom<FailHow>("err", "errAsync", "throw", "reject"),
      failShape: shapeArb,
      cleanupTimeoutMs: timeoutArb,
      form: config.graphForms === true ? fc.constantFrom("previous" as const, "all" as const) : fc.constant(undefined),
      concurrency:
        config.graphForms === true
          ? fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })
          : fc.constant(undefined),
    })
    .map(({ steps, fail, failAt, ...rest }) =>
      normalize({ ...rest, steps, failAt: fail && steps.length > 0 ? failAt % steps.length : undefined }),
    );
}

/** What a step cannot do is turned into what it can. */
function normalize(p: SagaProgram): SagaProgram {
  return {
    ...p,
    steps: p.steps.map((s, k) => ({
      ...s,
      compensated: s.type === "resource" ? true : s.compensated,
      skipped: k === p.failAt ? false : s.skipped,
      behaviour: s.type === "resource" && CONTEXT_ONLY.includes(s.behaviour.kind) ? { kind: "void" } : s.behaviour,
    })),
  };
}

interface Mapped {
  readonly program: Program;
  /** Step index -> cleanup index (1-based, the model's) for steps whose compensation is registered. */
  readonly cleanupOf: ReadonlyMap<number, number>;
  readonly names: readonly string[];
}

/** The transaction program the saga is equivalent to. */
function toModel(p: SagaProgram): Mapped {
  const registered: (CleanupSpec & { readonly step: number })[] = [];
  p.steps.forEach((s, k) => {
    if (s.skipped || (p.failAt !== undefined && k > p.failAt) || !s.compensated) return;
    if (k === p.failAt && !s.registerFirst) return;
    registered.push({
      step: k,
      kind: s.on,
      via: "defer",
      explicitOn: true,
      guard: s.guard,
      dismissed: false,
      labelled: true,
      timeoutMs: s.timeoutMs,
      behaviour: s.behaviour,
    });
  });
  // R11: when every step succeeded, the on-always cleanups run before any on-error one.
  const cleanups: CleanupSpec[] = p.failAt === undefined ? handOverOrder(registered) : registered;
  const cleanupOf = new Map<number, number>();
  cleanups.forEach((c, i) => cleanupOf.set((c as (typeof registered)[number]).step, i + 1));
  // A run that throws or rejects is a throw of the saga's body (origin "throw"); an err is its err.
  const thrown = p.failHow === "throw" || p.failHow === "reject";
  const program: Program = {
    form: "async",
    end: p.failAt === undefined ? "ok" : thrown ? "throw" : "err",
    bodyErrorShape: p.failShape,
    cleanupTimeoutMs: p.cleanupTimeoutMs,
    cleanups,
  };
  // The step name is the cleanup's label, so the model's labels are the saga's.
  const names = p.steps.map((_, k) => {
    const i = cleanupOf.get(k);
    return i === undefined ? `n${k}` : labelOf(cleanups[i - 1]!, i);
  });
  return { program, cleanupOf, names };
}

// ---------------------------------------------------------------------------------------------
// Running a saga program

function makeValue(shape: ValueShape, tag: string): unknown {
  switch (shape) {
    case "error":
      return new Error(tag);
    case "string":
      return tag;
    case "object":
      return { tag };
    case "undefined":
      return undefined;
    case "null":
      return null;
  }
}

interface Start {
  readonly index: number;
  readonly label: string;
  readonly at: number;
  /** Only plain compensations see the CleanupContext. */
  readonly ctx:
    { readonly retErr: unknown; readonly failed: boolean; readonly failuresSoFar: readonly string[] } | undefined;
  readonly signalAbortedAtStart: boolean;
}

interface Observed {
  readonly t0: number;
  readonly settledAt: number;
  readonly starts: readonly Start[];
  readonly aborts: ReadonlyMap<number, number>;
  readonly result: Result<SagaSuccess<Record<string, unknown>>, TransactionError>;
  readonly outputs: ReadonlyMap<number, unknown>;
  readonly bodyError: unknown;
  readonly failureValues: ReadonlyMap<number, unknown>;
  readonly setValues: ReadonlyMap<number, unknown>;
  readonly stepEvents: readonly StepEvent[];
  readonly problems: readonly string[];
  readonly callerSignal: AbortSignal;
}

/** What a resource's description holds: whether it was acquired or only planned. */
type Desc = { readonly id: string; readonly acquired: boolean };

/** The loose shape of a builder whose steps are chosen at run time (the typed API is in types.test-d.ts). */
interface LooseSaga {
  step(name: string, def: object): LooseSaga;
  resource(name: string, adapter: ResourceAdapter<{ id: string }, Desc, Desc>, def: object): LooseSaga;
  run(input: undefined, options?: SagaRunOptions): ResultAsync<SagaSuccess<Record<string, unknown>>, TransactionError>;
}

const unhandled = useRuleHarness();

let runCounter = 0;

async function execute(p: SagaProgram, mapped: Mapped, journal?: MemoryJournal): Promise<Observed> {
  vi.clearAllTimers();
  const run = ++runCounter;
  const t0 = Date.now();
  const starts: Start[] = [];
  const aborts = new Map<number, number>();
  const outputs = new Map<number, unknown>();
  const failureValues = new Map<number, unknown>();
  const setValues = new Map<number, unknown>();
  const stepEvents: StepEvent[] = [];
  const problems: string[] = [];
  const controller = new AbortController();
  const bodyError = makeValue(p.failShape, `step-failed-${run}`);
  const { program, cleanupOf, names } = mapped;

  /** Does what the behaviour says, as the cleanup `i`. */
  const behave = (i: number, b: Behaviour, signal: AbortSignal, ctx: CleanupContext | undefined): CleanupReturn => {
    const timeoutMs = timeoutOf(program, program.cleanups[i - 1]!);
    starts.push({
      index: i,
      label: labelOf(program.cleanups[i - 1]!, i),
      at: Date.now(),
      ctx:
        ctx === undefined
          ? undefined
          : { retErr: ctx.retErr, failed: ctx.failed, failuresSoFar: ctx.cleanupFailures.map((f) => f.label) },
      signalAbortedAtStart: signal.aborted,
    });
    if (signal === controller.signal) problems.push(`cleanup ${i} got the caller's signal`);
    signal.addEventListener("abort", () => aborts.set(i, Date.now()));
    switch (b.kind) {
      case "void":
        return undefined;
      case "promise":
        return Promise.resolve();
      case "ok":
        return ok(i);
      case "okAsync":
        return okAsync(i);
      case "abortCaller":
        controller.abort(new Error(`caller gave up ${run}`));
        return undefined;
      case "slow":
        return new Promise<void>((resolve) => setTimeout(resolve, slowDelay(timeoutMs, b.fraction)));
      case "throw":
      case "reject":
      case "err":
      case "errAsync":
      case "slowErr": {
        const v = makeValue(b.shape, `${b.kind}-${run}-${i}`);
        failureValues.set(i, v);
        if (b.kind === "throw") throw v;
        if (b.kind === "reject") return Promise.reject(v);
        if (b.kind === "err") return err(v);
        if (b.kind === "errAsync") return errAsync(v);
        return new ResultAsync<never, unknown>(
          new Promise((resolve) => setTimeout(() => resolve(err(v)), slowDelay(timeoutMs, b.fraction))),
        );
      }
      case "setRetErr":
      case "setRetErrThenThrow": {
        const v = makeValue(b.shape, `set-${run}-${i}`);
        setValues.set(i, v);
        ctx!.setRetErr(v);
        if (b.kind === "setRetErr") return undefined;
        const f = makeValue(b.shape2, `throw-after-set-${run}-${i}`);
        failureValues.set(i, f);
        throw f;
      }
      case "hang":
        return new Promise<void>((resolve, reject) => {
          if (b.late === "never") return;
          setTimeout(() => {
            if (b.late === "resolve") resolve();
            else reject(new Error(`late rejection ${run}-${i}`));
          }, timeoutMs + b.lateMs);
        });
    }
  };

  const failure = (): unknown => {
    switch (p.failHow) {
      case "err":
        return err(bodyError);
      case "errAsync":
        return errAsync(bodyError);
      case "throw":
        throw bodyError;
      case "reject":
        return Promise.reject(bodyError);
    }
  };

  /** Checks what a step's run sees: the input and every earlier step's output (undefined when skipped). */
  const checkContext = (k: number, ctx: Record<string, unknown>): void => {
    if (ctx.input !== undefined) problems.push(`step ${k}: ctx.input is ${JSON.stringify(ctx.input)}`);
    for (let j = 0; j < k; j++) {
      const expected = p.steps[j]!.skipped ? undefined : outputs.get(j);
      if (ctx[names[j]!] !== expected) problems.push(`step ${k}: ctx.${names[j]!} is not step ${j}'s output`);
    }
  };

  let builder = saga(`saga-${run}`) as unknown as LooseSaga;
  p.steps.forEach((s, k) => {
    const name = names[k]!;
    const i = cleanupOf.get(k);
    const fails = k === p.failAt;
    const options = {
      ...(p.form === "previous" && k > 0 ? { after: [names[k - 1]!] } : {}),
      ...(p.form === "all" ? { after: names.slice(0, k) } : {}),
      on: s.on,
      guard: s.guard,
      registerFirst: s.registerFirst,
      ...(s.skipped ? { when: () => false } : k % 2 === 0 ? {} : { when: () => true }),
      ...(s.timeoutMs === undefined ? {} : { timeoutMs: s.timeoutMs }),
    };
    if (s.type === "plain") {
      const output = { step: k, run };
      builder = builder.step(name, {
        ...options,
        run: (ctx: Record<string, unknown>) => {
          checkContext(k, ctx);
          if (fails) return failure();
          outputs.set(k, output);
          // Every form a run may take.
          return [output, Promise.resolve(output), ok(output), okAsync(output)][k % 4];
        },
        ...(s.compensated
          ? {
              compensate: (out: unknown, ctx: CleanupContext) => {
                if (i === undefined) throw new Error(`step ${k}'s compensation was not expected to be registered`);
                const expected = fails ? undefined : output;
                if (out !== expected) problems.push(`compensation ${i} got ${JSON.stringify(out)}`);
                return behave(i, s.behaviour, ctx.signal, ctx);
              },
            }
          : {}),
      });
    } else {
      const id = `r${run}-${k}`;
      const adapter: ResourceAdapter<{ id: string }, Desc, Desc> = {
        kind: "fake",
        plan: (spec) => ({ id: spec.id, acquired: false }),
        acquire: (plan) => {
          if (plan.id !== id) problems.push(`acquire ${k} got plan ${plan.id}`);
          if (fails) return failure() as Result<Desc, unknown>;
          const resource = { id: plan.id, acquired: true };
          outputs.set(k, resource);
          return [resource, Promise.resolve(resource), ok(resource), okAsync(resource)][k % 4]!;
        },
        describe: (r) => ({ id: r.id, acquired: r.acquired }),
        release: (desc, ctx) => {
          if (i === undefined) throw new Error(`step ${k}'s release was not expected to be registered`);
          if (desc.id !== id || desc.acquired === fails) problems.push(`release ${i} got ${JSON.stringify(desc)}`);
          return behave(i, s.behaviour, ctx.signal, undefined);
        },
      };
      builder = builder.resource(name, adapter, {
        ...options,
        spec: (ctx: Record<string, unknown>) => {
          checkContext(k, ctx);
          return { id };
        },
      });
    }
  });

  const options: SagaRunOptions = {
    signal: controller.signal,
    onStep: (e) => stepEvents.push(e),
    ...(p.cleanupTimeoutMs === undefined ? {} : { cleanupTimeoutMs: p.cleanupTimeoutMs }),
    ...(journal === undefined ? {} : { journal }),
    ...(p.concurrency === undefined ? {} : { concurrency: p.concurrency }),
  };
  let result: Observed["result"] | undefined;
  let settledAt = -1;
  void builder.run(undefined, options).then((r) => {
    settledAt = Date.now();
    result = r;
  });
  await vi.runAllTimersAsync();
  await flush();
  if (result === undefined) throw new Error("the saga did not settle once every timer had run");
  // Late settlements of hung compensations (and their journal records).
  await vi.runAllTimersAsync();
  await flush();
  return {
    t0,
    settledAt,
    starts,
    aborts,
    result,
    outputs,
    bodyError,
    failureValues,
    setValues,
    stepEvents,
    problems,
    callerSignal: controller.signal,
  };
}

// ---------------------------------------------------------------------------------------------
// Comparing with the model

function valueOf(program: Program, o: Observed, ref: ValueRef): unknown {
  switch (ref.from) {
    case "body":
      return o.bodyError;
    case "set":
      return o.setValues.get(ref.index);
    case "failure": {
      const spec = program.cleanups[ref.index - 1]!;
      if (spec.behaviour.kind !== "hang") return o.failureValues.get(ref.index);
      const e = o.result.isErr() ? o.result.error : undefined;
      return e?.cleanupFailures.find((f) => f.label === labelOf(spec, ref.index))?.error;
    }
  }
}

function expectMatchesModel(p: SagaProgram, mapped: Mapped, o: Observed, m: ModelOutcome): void {
  const { program } = mapped;
  expect(o.problems).toEqual([]);
  // R1: what ran, in which order (LIFO, each at most once).
  expect(
    o.starts.map((s) => s.label),
    "compensations that ran, in order",
  ).toEqual(m.turns.map((t) => t.label));
  m.turns.forEach((t, k) => {
    const s = o.starts[k]!;
    // R6: at which fake time, each with a live signal of its own that aborts at its deadline.
    expect(s.at - o.t0, `fake time at which ${t.label} starts`).toBe(t.startsAt);
    expect(s.signalAbortedAtStart, `${t.label}'s signal is live at its start`).toBe(false);
    if (t.timesOut)
      expect(o.aborts.get(t.index), `${t.label}'s signal aborts at its deadline`).toBe(s.at + t.timeoutMs);
    // R2, R5: what a plain compensation sees.
    if (s.ctx !== undefined) {
      expect(s.ctx.failed, `ctx.failed at ${t.label}`).toBe(t.failed);
      if (t.retErr === undefined) expect(s.ctx.retErr, `ctx.retErr at ${t.label}`).toBeUndefined();
      else expect(s.ctx.retErr, `ctx.retErr at ${t.label}`).toBe(valueOf(program, o, t.retErr));
      expect(s.ctx.failuresSoFar, `ctx.cleanupFailures at ${t.label}`).toEqual(t.failuresSoFar);
    }
  });
  expect(o.settledAt - o.t0, "fake time the saga took").toBe(m.durationMs);
  // R7: the Result.
  if (m.result.ok) {
    expect(o.result.isOk(), `result ok (got ${o.result.isErr() ? o.result.error.message : ""})`).toBe(true);
    if (o.result.isOk()) expectSuccess(p, mapped, o, o.result.value);
  } else {
    expect(o.result.isErr(), "result err").toBe(true);
    if (o.result.isErr()) {
      const e = o.result.error;
      // R4: every failure, in order, with its value; R3: the retained labels.
      expect(
        e.cleanupFailures.map((f) => f.label),
        "failure labels",
      ).toEqual(m.failures.map((f) => f.label));
      m.failures.forEach((f, k) => {
        const actual = e.cleanupFailures[k]!.error;
        const spec = program.cleanups[f.index - 1]!;
        if (spec.behaviour.kind === "hang") {
          expect(actual).toBeInstanceOf(CleanupTimeoutError);
          expect((actual as CleanupTimeoutError).timeoutMs).toBe(timeoutOf(program, spec));
        } else {
          expect(actual, `failure value of ${f.label}`).toBe(o.failureValues.get(f.index));
        }
      });
      expect(
        e.retained.map((r) => r.label),
        "retained",
      ).toEqual(m.retained.map((r) => r.label));
      expect(e.cause, "primary cause").toBe(valueOf(program, o, m.result.cause));
      expect(e.origin, "origin of the cause").toBe(m.result.origin);
      // The typed body error is only ever an err a step returned, never a thrown value.
      expect(e.isBodyError(), "isBodyError() iff the origin is err").toBe(m.result.origin === "err");
      expect(e.bodyError, "bodyError: the step's err, never a throw").toBe(
        program.end === "err" ? o.bodyError : undefined,
      );
    }
  }
  expectStepEvents(p, mapped, o);
  expect(unhandled, "no unhandled rejection").toEqual([]);
}

/** On success the context holds every output, and the error-kind resources are handed over (R8). */
function expectSuccess(p: SagaProgram, mapped: Mapped, o: Observed, value: SagaSuccess<Record<string, unknown>>): void {
  p.steps.forEach((s, k) => {
    expect(value.context[mapped.names[k]!], `context.${mapped.names[k]!}`).toBe(
      s.skipped ? undefined : o.outputs.get(k),
    );
  });
  const held: HeldResource[] = [];
  p.steps.forEach((s, k) => {
    if (s.type !== "resource" || s.skipped || s.on !== "error") return;
    held.push({
      step: mapped.names[k]!,
      kind: "fake",
      guard: s.guard,
      description: { id: (o.outputs.get(k) as Desc).id, acquired: true },
    });
  });
  // A chain written with every earlier step in `after` hands over the same, each naming what it was built on.
  const withoutAfter = value.held.resources.map(({ after: _after, ...r }) => r);
  expect(withoutAfter, "held resources").toEqual(held);
  if (p.form !== "all") expect(value.held.resources, "a chain names no after").toEqual(held);
}

function expectStepEvents(p: SagaProgram, mapped: Mapped, o: Observed): void {
  const expected: string[] = [];
  const last = p.failAt ?? p.steps.length - 1;
  for (let k = 0; k <= last; k++) {
    const name = mapped.names[k]!;
    if (p.steps[k]!.skipped) expected.push(`step:skipped ${name}`);
    else expected.push(`step:started ${name}`, `${k === p.failAt ? "step:failed" : "step:succeeded"} ${name}`);
  }
  expect(
    o.stepEvents.map((e) => `${e.type} ${e.step}`),
    "step events",
  ).toEqual(expected);
}

/** What the journal must say of each resource step once everything (late settlements too) is over. */
function expectedJournal(
  p: SagaProgram,
  mapped: Mapped,
  m: ModelOutcome,
): { step: string; status: JournalledResource["status"]; acquired: boolean }[] {
  const out: { step: string; status: JournalledResource["status"]; acquired: boolean }[] = [];
  p.steps.forEach((s, k) => {
    if (s.type !== "resource" || s.skipped || (p.failAt !== undefined && k > p.failAt)) return;
    const acquired = k !== p.failAt;
    // R11: only a run that ends Ok commits; it hands its on-error resources over, its on-always
    // ones were released before the commit.
    const handedOver = acquired && m.result.ok && s.on === "error";
    // A failed acquisition without registerFirst holds nothing: journalled as released at once.
    let status: JournalledResource["status"] = handedOver
      ? "handed-over"
      : acquired
        ? "acquired"
        : s.registerFirst
          ? "intent"
          : "released";
    const i = mapped.cleanupOf.get(k);
    const b = s.behaviour;
    if (i !== undefined && m.turns.some((t) => t.index === i)) {
      if (b.kind === "hang") {
        if (b.late !== "never") status = b.late === "resolve" ? "released" : "release-failed";
      } else if (["throw", "reject", "err", "errAsync", "slowErr"].includes(b.kind)) {
        status = "release-failed";
      } else {
        status = "released";
      }
    }
    if (i !== undefined && m.retained.some((r) => r.index === i)) status = "retained";
    out.push({ step: mapped.names[k]!, status, acquired });
  });
  return out;
}

async function checkProgram(p: SagaProgram, withJournal = false): Promise<void> {
  const mapped = toModel(p);
  const m = runModel(mapped.program);
  const journal = withJournal ? new MemoryJournal() : undefined;
  const o = await execute(p, mapped, journal);
  expectMatchesModel(p, mapped, o, m);
  if (journal === undefined) return;

  // The journal: one transaction, its fold says what became of each resource.
  const records = journal.lines().map((l) => JSON.parse(l) as JournalRecord);
  const txs = [...new Set(records.map((r) => r.tx))];
  expect(txs, "one journal transaction").toHaveLength(1);
  expect(records[0]!.t).toBe("begin");
  const folded = foldTransaction(txs[0]!, records);
  // R11: committed iff the run is Ok; an Err hands nothing over.
  expect(folded.committed, "committed iff the run is Ok").toBe(o.result.isOk());
  expect(folded.ended, "every run ends with an end record").toBe(true);
  if (o.result.isErr()) {
    expect(
      folded.resources.filter((r) => r.status === "handed-over").map((r) => r.step),
      "an Err hands nothing over",
    ).toEqual([]);
  }
  const expected = expectedJournal(p, mapped, m);
  expect(
    folded.resources.map((r) => ({ step: r.step, status: r.status, acquired: (r.desc as Desc).acquired })),
    "journalled resources and their statuses",
  ).toEqual(expected);
  if (o.result.isOk()) expect(o.result.value.held.tx).toBe(txs[0]);

  // Recovery retries exactly what the fold says is still held (nothing after a commit).
  const released: string[] = [];
  const recovering: ResourceAdapter<{ id: string }, Desc, Desc> = {
    kind: "fake",
    plan: (spec) => ({ id: spec.id, acquired: false }),
    acquire: () => {
      throw new Error("recovery never acquires");
    },
    describe: (r) => r,
    release: (desc) => {
      released.push(desc.id);
    },
  };
  const report = await recover(journal, [recovering]);
  expect(report.isOk()).toBe(true);
  const pending = needsRecovery(folded)
    ? folded.resources.filter((r) => r.status !== "released" && r.status !== "handed-over").reverse()
    : [];
  expect(released, "recover releases what the journal says is still held, in reverse").toEqual(
    pending.map((r) => (r.desc as Desc).id),
  );
  expect(report._unsafeUnwrap().released.map((r) => r.step)).toEqual(pending.map((r) => r.step));
  const again = await recover(journal, [recovering]);
  expect(again._unsafeUnwrap().transactions, "a second recover finds nothing").toBe(0);
}

// ---------------------------------------------------------------------------------------------
// The rules, for sagas

describe("sagas obey R1-R10 like transaction (random sagas against the reference model)", () => {
  test.prop([sagaArb({ behaviours: ALL, ons: ["always", "always", "error"] })], { numRuns: RUNS })(
    "R1: compensations run after the steps, LIFO, each at most once",
    async (p) => {
      await checkProgram(p);
    },
  );

  test.prop([sagaArb({ behaviours: [...SUCCEEDING, ...FAILING, "setRetErr", "hang"], timeouts: false })], {
    numRuns: RUNS,
  })("R2: on-error compensations run iff the saga is failing at their turn; on-always ones always", async (p) => {
    await checkProgram(p);
  });

  test.prop([sagaArb({ behaviours: [...SUCCEEDING, ...FAILING, ...FAILING, "hang"], guardRate: 0.6, failRate: 0.7 })], {
    numRuns: RUNS,
  })("R3: a guarded compensation after a failed one is skipped and retained", async (p) => {
    await checkProgram(p);
  });

  test.prop(
    [sagaArb({ behaviours: [...SUCCEEDING, ...FAILING, "slowErr", "hang", "setRetErrThenThrow"], guardRate: 0.2 })],
    { numRuns: RUNS },
  )(
    "R4, R5: a failing compensation never stops the unwind nor replaces the step's error; setRetErr is not a failure",
    async (p) => {
      await checkProgram(p);
    },
  );

  test.prop(
    [sagaArb({ behaviours: ["hang", "hang", "slow", "slowErr", "abortCaller", "void", "throw"], maxSteps: 5 })],
    { numRuns: RUNS },
  )("R6: each compensation has its own signal and deadline (the step's timeoutMs); the unwind moves on", async (p) => {
    await checkProgram(p);
  });

  test.prop([sagaArb({ behaviours: ALL, guardRate: 0.3, skipRate: 0.3 })], { numRuns: RUNS })(
    "R7, R8: the Result is ok iff retErr is unset at the end; on success the context and held resources are handed over",
    async (p) => {
      await checkProgram(p);
    },
  );

  test.prop(
    [
      sagaArb({
        behaviours: [...SUCCEEDING, ...FAILING, "setRetErr", "hang"],
        ons: ["always", "error"],
        failRate: 0,
        resourceRate: 0.6,
      }),
    ],
    { numRuns: RUNS },
  )(
    "R11: a run whose steps all succeeded hands over only after every on-always cleanup succeeded; otherwise it rolls back every on-error step and hands nothing over",
    async (p) => {
      await checkProgram(p, true);
    },
  );

  test.prop([sagaArb({ behaviours: ALL, guardRate: 0.4, resourceRate: 0.7 })], { numRuns: RUNS })(
    "with a MemoryJournal: the same behaviour, and the journal's fold says what was released, failed and retained",
    async (p) => {
      await checkProgram(p, true);
    },
  );

  test.prop([sagaArb({ behaviours: ALL, guardRate: 0.4, resourceRate: 0.5, graphForms: true })], { numRuns: RUNS })(
    "R12, R13: a chain written with explicit `after` (the previous step, or every earlier one, which takes the graph paths) and any concurrency gives exactly R1-R11",
    async (p) => {
      await checkProgram(p, true);
    },
  );
});
