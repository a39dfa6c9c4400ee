// One property per rule R1-R10: random programs run through `transaction` and compared with the
// reference model in ./model.ts (what ran, in which order and at which fake time, what each
// cleanup saw, what was retained, the final Result).
import { fc, test } from "@fast-check/vitest";
import { flush, useRuleHarness } from "../model/harness.js";
import { err, errAsync, ok, okAsync, ResultAsync, type Err, type Result } from "neverthrow";
import { describe, expect, vi } from "vitest";
import {
  CleanupTimeoutError,
  TransactionClosedError,
  TransactionError,
  isTransactionError,
  transaction,
} from "../../src/index.js";
import type {
  CleanupContext,
  CleanupHandle,
  CleanupOptions,
  CleanupReturn,
  Transaction,
  TransactionEvent,
} from "../../src/index.js";
import {
  engineMadeFailure,
  labelOf,
  notedLabel,
  runModel,
  slowDelay,
  timeoutOf,
  type BodyEnd,
  type BodyForm,
  type CleanupKindSpec,
  type CleanupSpec,
  type ModelOutcome,
  type Program,
  type ValueRef,
  type ValueShape,
  type Via,
} from "../model/model.js";

const RUNS = 120; // x 10 properties = 1200 programs per run

// ---------------------------------------------------------------------------------------------
// Arbitraries

import {
  ALL,
  behaviourArb,
  CLEARING,
  FAILING,
  setShapeArb,
  shapeArb,
  SUCCEEDING,
  type BehaviourKind,
} from "../model/arbitraries.js";

interface ProgramConfig {
  readonly forms?: readonly BodyForm[];
  readonly ends?: readonly BodyEnd[];
  readonly kinds?: readonly CleanupKindSpec[];
  readonly behaviours: readonly BehaviourKind[];
  readonly guardRate?: number;
  readonly dismissRate?: number;
  readonly maxCleanups?: number;
  readonly timeouts?: boolean;
  /** At most this many cleanup failures noted by the body (R4). Default 0. */
  readonly maxNoted?: number;
}

const ALL_FORMS: readonly BodyForm[] = ["sync", "async", "promise", "resultAsync", "generator", "asyncGenerator"];
const AWAITING_FORMS: readonly BodyForm[] = ["async", "asyncGenerator"];
const GENERATOR_FORMS: readonly BodyForm[] = ["generator", "asyncGenerator"];

/** A probability as a boolean arbitrary. */
function chance(rate: number): fc.Arbitrary<boolean> {
  if (rate <= 0) return fc.constant(false);
  if (rate >= 1) return fc.constant(true);
  return fc.integer({ min: 0, max: 999 }).map((n) => n < rate * 1000);
}

/** Makes a generated program consistent: what a form cannot do is turned into what it can. */
function normalize(p: Program): Program {
  const awaiting = AWAITING_FORMS.includes(p.form);
  const generator = GENERATOR_FORMS.includes(p.form);
  return {
    ...p,
    end: p.end === "yieldErr" && !generator ? "err" : p.end,
    cleanups: p.cleanups.map((c) => {
      let via: Via = c.via;
      if (via === "errdefer" && c.kind !== "error") via = "defer";
      if ((via === "acquire" || via === "acquireFirst") && !awaiting) via = "defer";
      const dismissed = via === "acquire" || via === "acquireFirst" ? false : c.dismissed;
      return { ...c, via, dismissed };
    }),
  };
}

function programArb(config: ProgramConfig): fc.Arbitrary<Program> {
  const timeouts = config.timeouts ?? true;
  const timeoutArb = timeouts
    ? fc.option(fc.integer({ min: 2, max: 5000 }), { nil: undefined, freq: 2 })
    : fc.constant(undefined);
  const cleanupArb: fc.Arbitrary<CleanupSpec> = fc.record({
    kind: fc.constantFrom<CleanupKindSpec>(...(config.kinds ?? ["always", "error", "success"])),
    via: fc.constantFrom<Via>("defer", "errdefer", "acquire", "acquireFirst"),
    explicitOn: fc.boolean(),
    guard: chance(config.guardRate ?? 0),
    dismissed: chance(config.dismissRate ?? 0),
    labelled: fc.boolean(),
    timeoutMs: timeoutArb,
    behaviour: behaviourArb(config.behaviours),
  });
  return fc
    .record({
      form: fc.constantFrom<BodyForm>(...(config.forms ?? ALL_FORMS)),
      end: fc.constantFrom<BodyEnd>(...(config.ends ?? ["ok", "err", "throw", "yieldErr"])),
      bodyErrorShape: shapeArb,
      noted: fc.array(setShapeArb, { maxLength: config.maxNoted ?? 0 }),
      cleanupTimeoutMs: timeoutArb,
      cleanups: fc.array(cleanupArb, { maxLength: config.maxCleanups ?? 7 }),
    })
    .map(normalize);
}

// ---------------------------------------------------------------------------------------------
// Running a program

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
  readonly retErr: unknown;
  readonly failed: boolean;
  readonly failuresSoFar: readonly string[];
  readonly signalAbortedAtStart: boolean;
  readonly signalIsCallers: boolean;
  readonly closed: boolean;
}

/** Things a test adds to a program (R9). */
interface Extras {
  /** Starts an acquisition the body does not await; it resolves at this model turn, or after the end. */
  readonly lateAcquireAt?: number | "after";
  /** Each running cleanup tries `tx.defer` (must throw TransactionClosedError). */
  readonly registerFromCleanups?: boolean;
}

interface Observed {
  readonly t0: number;
  readonly settledAt: number;
  readonly sequence: readonly string[];
  readonly starts: readonly Start[];
  /** Fake time and sequence position at which each cleanup's signal aborted. */
  readonly aborts: ReadonlyMap<number, { at: number; seq: number }>;
  /** Sequence position at which each cleanup's returned promise settled on its own. */
  readonly settles: ReadonlyMap<number, number>;
  readonly result: Result<unknown, TransactionError>;
  readonly okValue: object;
  readonly bodyError: unknown;
  readonly failureValues: ReadonlyMap<number, unknown>;
  readonly setValues: ReadonlyMap<number, unknown>;
  readonly notedValues: ReadonlyMap<number, unknown>;
  readonly events: readonly TransactionEvent[];
  readonly dismissResults: ReadonlyMap<number, readonly [boolean, boolean]>;
  readonly handleLabels: ReadonlyMap<number, string>;
  readonly problems: readonly string[];
  readonly callerSignal: AbortSignal;
  readonly registerAttempts: readonly unknown[];
  readonly late?: {
    readonly resource: object;
    readonly resolvedAt: number | undefined;
    readonly releasedWithinMicrotasks: boolean;
    readonly releases: readonly { at: number; resource: unknown }[];
    readonly result: Result<unknown, unknown> | undefined;
  };
}

const unhandled = useRuleHarness();

let runCounter = 0;

async function execute(p: Program, extras: Extras = {}): Promise<Observed> {
  vi.clearAllTimers();
  const run = ++runCounter;
  const t0 = Date.now();
  let seq = 0;
  const sequence: string[] = [];
  const mark = (s: string): number => {
    sequence.push(s);
    return seq++;
  };
  const starts: Start[] = [];
  const aborts = new Map<number, { at: number; seq: number }>();
  const settles = new Map<number, number>();
  const events: TransactionEvent[] = [];
  const problems: string[] = [];
  const dismissResults = new Map<number, readonly [boolean, boolean]>();
  const handleLabels = new Map<number, string>();
  const registerAttempts: unknown[] = [];
  const controller = new AbortController();
  const okValue = { ok: run };
  const bodyError = makeValue(p.bodyErrorShape, `body-${run}`);
  const failureValues = new Map<number, unknown>();
  const setValues = new Map<number, unknown>();
  const notedValues = new Map<number, unknown>();
  let txRef: Transaction | undefined;

  // The model's turn number at which the late acquisition resolves.
  let turn = 0;
  let lateResolve: (() => void) | undefined;
  let lateResolvedAt: number | undefined;
  let lateReleasedWithinMicrotasks = false;
  const lateResource = { late: run };
  const lateReleases: { at: number; resource: unknown }[] = [];
  let lateResult: ResultAsync<unknown, unknown> | undefined;

  const cleanupOf = (i: number, spec: CleanupSpec) => {
    const timeoutMs = timeoutOf(p, spec);
    return (ctx: CleanupContext): CleanupReturn => {
      const label = ctx.label;
      starts.push({
        index: i,
        label,
        at: Date.now(),
        retErr: ctx.retErr,
        failed: ctx.failed,
        failuresSoFar: ctx.cleanupFailures.map((f) => f.label),
        signalAbortedAtStart: ctx.signal.aborted,
        signalIsCallers: ctx.signal === controller.signal || ctx.signal === txRef?.signal,
        closed: txRef?.closed ?? false,
      });
      mark(`start:${i}`);
      ctx.signal.addEventListener("abort", () => aborts.set(i, { at: Date.now(), seq: mark(`abort:${i}`) }));
      if (extras.registerFromCleanups === true && txRef !== undefined) {
        try {
          txRef.defer(() => undefined, { label: `too-late-${i}` });
          registerAttempts.push("no error");
        } catch (e) {
          registerAttempts.push(e);
        }
      }
      turn++;
      if (extras.lateAcquireAt === turn && lateResolve !== undefined) lateResolve();
      const b = spec.behaviour;
      const settled = (): void => {
        settles.set(i, mark(`settled:${i}`));
      };
      switch (b.kind) {
        case "void":
          settled();
          return undefined;
        case "promise":
          return Promise.resolve().then(settled);
        case "ok":
          settled();
          return ok(i);
        case "okAsync":
          settled();
          return okAsync(i);
        case "abortCaller":
          controller.abort(new Error(`caller gave up ${run}`));
          settled();
          return undefined;
        case "slow":
          return new Promise<void>((resolve) =>
            setTimeout(
              () => {
                settled();
                resolve();
              },
              slowDelay(timeoutMs, b.fraction),
            ),
          );
        case "throw": {
          const v = makeValue(b.shape, `throw-${run}-${i}`);
          failureValues.set(i, v);
          throw v;
        }
        case "reject": {
          const v = makeValue(b.shape, `reject-${run}-${i}`);
          failureValues.set(i, v);
          return Promise.reject(v);
        }
        case "err": {
          const v = makeValue(b.shape, `err-${run}-${i}`);
          failureValues.set(i, v);
          return err(v);
        }
        case "errAsync": {
          const v = makeValue(b.shape, `errAsync-${run}-${i}`);
          failureValues.set(i, v);
          return errAsync(v);
        }
        case "slowErr": {
          const v = makeValue(b.shape, `slowErr-${run}-${i}`);
          failureValues.set(i, v);
          return new ResultAsync<never, unknown>(
            new Promise((resolve) => setTimeout(() => resolve(err(v)), slowDelay(timeoutMs, b.fraction))),
          );
        }
        case "setRetErr": {
          const v = makeValue(b.shape, `set-${run}-${i}`);
          setValues.set(i, v);
          ctx.setRetErr(v);
          return undefined;
        }
        case "setRetErrThenThrow": {
          const v = makeValue(b.shape, `set-${run}-${i}`);
          const f = makeValue(b.shape2, `throw-after-set-${run}-${i}`);
          setValues.set(i, v);
          failureValues.set(i, f);
          ctx.setRetErr(v);
          throw f;
        }
        case "setRetErrNil":
          ctx.setRetErr((b.shape === "undefined" ? undefined : null) as never);
          return undefined;
        case "clearRetErr":
          ctx.clearRetErr();
          return undefined;
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
  };

  const optionsOf = (i: number, spec: CleanupSpec): CleanupOptions => ({
    ...(spec.via !== "errdefer" && (spec.explicitOn || spec.kind !== "always") ? { on: spec.kind } : {}),
    ...(spec.guard ? { guard: true } : {}),
    ...(spec.labelled ? { label: labelOf(spec, i) } : {}),
    ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
  });

  const registerSync = (tx: Transaction, i: number, spec: CleanupSpec): void => {
    const fn = cleanupOf(i, spec);
    const opts = optionsOf(i, spec);
    const handle: CleanupHandle = spec.via === "errdefer" ? tx.errdefer(fn, opts) : tx.defer(fn, opts);
    handleLabels.set(i, handle.label);
    if (spec.dismissed) dismissResults.set(i, [handle.dismiss(), handle.dismiss()]);
  };

  const acquire = (tx: Transaction, i: number, spec: CleanupSpec): ResultAsync<unknown, unknown> => {
    const resource = { resource: i, run };
    const fn = cleanupOf(i, spec);
    const release = (r: unknown, ctx: CleanupContext): CleanupReturn => {
      if (r !== resource) problems.push(`release ${i} got ${String(r)} instead of its resource`);
      return fn(ctx);
    };
    // Every form an acquireFn may take.
    const acquireFn = (): unknown => {
      switch (i % 4) {
        case 0:
          return resource;
        case 1:
          return Promise.resolve(resource);
        case 2:
          return ok(resource);
        default:
          return okAsync(resource);
      }
    };
    const opts = optionsOf(i, spec);
    const r =
      spec.via === "acquireFirst"
        ? tx.acquire(acquireFn, release, { ...opts, registerFirst: true })
        : tx.acquire(acquireFn, release, opts);
    return r.map((value) => {
      if (value !== resource) problems.push(`acquire ${i} returned ${String(value)} instead of its resource`);
      return value;
    });
  };

  const startLate = (tx: Transaction): void => {
    if (extras.lateAcquireAt === undefined) return;
    const deferred = new Promise<object>((resolve) => {
      lateResolve = () => {
        lateResolvedAt = Date.now();
        // "At once": before the next macrotask, so before any timer (real or fake) can fire.
        setImmediate(() => (lateReleasedWithinMicrotasks = lateReleases.length > 0));
        lateResolve = undefined;
        resolve(lateResource);
      };
    });
    lateResult = tx.acquire(
      () => deferred,
      (r) => {
        lateReleases.push({ at: Date.now(), resource: r });
      },
      { label: "late" },
    );
  };

  const enter = (tx: Transaction): void => {
    txRef = tx;
    if (tx.closed) problems.push("tx.closed is true while the body runs");
    (p.noted ?? []).forEach((shape, k) => {
      const v = makeValue(shape, `noted-${run}-${k + 1}`);
      notedValues.set(k + 1, v);
      tx.noteCleanupFailure(v, notedLabel(k + 1));
    });
  };

  const endSync = (): Result<object, unknown> => {
    switch (p.end) {
      case "ok":
        return ok(okValue);
      case "err":
      case "yieldErr":
        return err(bodyError);
      case "throw":
        throw bodyError;
    }
  };

  const options = {
    signal: controller.signal,
    name: `run-${run}`,
    onEvent: (e: TransactionEvent) => events.push(e),
    ...(p.cleanupTimeoutMs !== undefined ? { cleanupTimeoutMs: p.cleanupTimeoutMs } : {}),
  };

  let pending: ResultAsync<unknown, TransactionError>;
  switch (p.form) {
    case "sync":
      pending = transaction((tx) => {
        enter(tx);
        p.cleanups.forEach((c, k) => registerSync(tx, k + 1, c));
        startLate(tx);
        return endSync();
      }, options);
      break;
    case "promise":
      pending = transaction((tx) => {
        enter(tx);
        p.cleanups.forEach((c, k) => registerSync(tx, k + 1, c));
        startLate(tx);
        return p.end === "throw" ? Promise.reject(bodyError) : Promise.resolve(endSync());
      }, options);
      break;
    case "resultAsync":
      pending = transaction((tx) => {
        enter(tx);
        p.cleanups.forEach((c, k) => registerSync(tx, k + 1, c));
        startLate(tx);
        return p.end === "ok" ? okAsync<object, unknown>(okValue) : p.end === "throw" ? endSync() : errAsync(bodyError);
      }, options);
      break;
    case "async":
      pending = transaction(async (tx) => {
        enter(tx);
        for (const [k, c] of p.cleanups.entries()) {
          await Promise.resolve();
          if (c.via === "acquire" || c.via === "acquireFirst") {
            const r = await acquire(tx, k + 1, c);
            if (r.isErr()) problems.push(`acquire ${k + 1} failed`);
          } else registerSync(tx, k + 1, c);
        }
        await Promise.resolve();
        startLate(tx);
        return endSync();
      }, options);
      break;
    case "generator":
      pending = transaction(function* (tx): Generator<Err<never, unknown>, Result<object, unknown>> {
        try {
          enter(tx);
          p.cleanups.forEach((c, k) => registerSync(tx, k + 1, c));
          startLate(tx);
          const one = yield* ok(1);
          if (one !== 1) problems.push("yield* ok(1) did not give 1");
          if (p.end === "yieldErr") {
            yield* err(bodyError);
            mark("after-yield");
          }
          return endSync();
        } finally {
          mark("finally");
        }
      }, options);
      break;
    case "asyncGenerator":
      pending = transaction(async function* (tx): AsyncGenerator<Err<never, unknown>, Result<object, unknown>> {
        try {
          enter(tx);
          for (const [k, c] of p.cleanups.entries()) {
            await Promise.resolve();
            if (c.via === "acquire" || c.via === "acquireFirst") yield* acquire(tx, k + 1, c);
            else registerSync(tx, k + 1, c);
          }
          startLate(tx);
          const one = yield* okAsync(1);
          if (one !== 1) problems.push("yield* okAsync(1) did not give 1");
          if (p.end === "yieldErr") {
            yield* errAsync(bodyError);
            mark("after-yield");
          }
          return endSync();
        } finally {
          mark("finally");
        }
      }, options);
      break;
  }

  let result: Result<unknown, TransactionError> | undefined;
  let settledAt = -1;
  void pending.then((r) => {
    settledAt = Date.now();
    mark("settled");
    result = r;
  });
  // Deadlines, slow cleanups and late settlements all run on the fake clock.
  await vi.runAllTimersAsync();
  await flush();
  if (result === undefined) throw new Error("the transaction did not settle once every timer had run");
  if (extras.lateAcquireAt === "after" && lateResolve !== undefined) lateResolve();
  await flush();
  let late: Observed["late"];
  if (extras.lateAcquireAt !== undefined) {
    if (lateResult === undefined) throw new Error("late acquisition never started");
    let lr: Result<unknown, unknown> | undefined;
    void lateResult.then((r) => {
      lr = r;
    });
    await flush();
    late = {
      resource: lateResource,
      resolvedAt: lateResolvedAt,
      releasedWithinMicrotasks: lateReleasedWithinMicrotasks,
      releases: lateReleases,
      result: lr,
    };
  }
  if (txRef !== undefined && extras.registerFromCleanups === true) {
    try {
      txRef.errdefer(() => undefined);
      registerAttempts.push("no error");
    } catch (e) {
      registerAttempts.push(e);
    }
  }
  await vi.runAllTimersAsync();
  await flush();
  return {
    t0,
    settledAt,
    sequence,
    starts,
    aborts,
    settles,
    result,
    okValue,
    bodyError,
    failureValues,
    setValues,
    notedValues,
    events,
    dismissResults,
    handleLabels,
    problems,
    callerSignal: controller.signal,
    registerAttempts,
    ...(late !== undefined ? { late } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Comparing with the model

function cleanupFailureOf(o: Observed, label: string): unknown {
  const e = o.result.isErr() ? o.result.error : undefined;
  return e?.cleanupFailures.find((f) => f.label === label)?.error;
}

function valueOf(p: Program, o: Observed, ref: ValueRef): unknown {
  switch (ref.from) {
    case "body":
      return o.bodyError;
    case "set":
      return o.setValues.get(ref.index);
    case "noted":
      return o.notedValues.get(ref.index);
    case "failure": {
      const spec = p.cleanups[ref.index - 1]!;
      return engineMadeFailure(spec.behaviour) === undefined
        ? o.failureValues.get(ref.index)
        : cleanupFailureOf(o, labelOf(spec, ref.index));
    }
  }
}

/** What a TransactionError's message must start with for a cause. */
function messagePrefixes(cause: unknown): string[] {
  if (cause instanceof Error) return [cause.message === "" ? cause.name : cause.message];
  if (typeof cause === "string") return [cause];
  const prefixes = [String(cause)];
  try {
    const json = JSON.stringify(cause);
    if (json !== undefined) prefixes.push(json);
  } catch {
    // not representable as JSON
  }
  return prefixes;
}

function expectOrder(o: Observed, m: ModelOutcome): void {
  expect(
    o.starts.map((s) => s.index),
    "cleanups that ran, in order",
  ).toEqual(m.turns.map((t) => t.index));
}

function expectTurns(p: Program, o: Observed, m: ModelOutcome): void {
  expectOrder(o, m);
  m.turns.forEach((t, k) => {
    const s = o.starts[k]!;
    expect(s.label, `label of cleanup ${t.index}`).toBe(t.label);
    expect(s.failed, `ctx.failed at ${t.label}`).toBe(t.failed);
    if (t.retErr === undefined) expect(s.retErr, `ctx.retErr at ${t.label}`).toBeUndefined();
    else expect(s.retErr, `ctx.retErr at ${t.label}`).toBe(valueOf(p, o, t.retErr));
    expect(s.failuresSoFar, `ctx.cleanupFailures at ${t.label}`).toEqual(t.failuresSoFar);
    expect(s.closed, `tx.closed at ${t.label}`).toBe(true);
  });
}

function expectTimes(p: Program, o: Observed, m: ModelOutcome): void {
  m.turns.forEach((t, k) => {
    const s = o.starts[k]!;
    expect(s.at - o.t0, `fake time at which ${t.label} starts`).toBe(t.startsAt);
    expect(s.signalAbortedAtStart, `${t.label}'s signal is live at its start`).toBe(false);
    expect(s.signalIsCallers, `${t.label}'s signal is its own`).toBe(false);
    const abort = o.aborts.get(t.index);
    if (t.timesOut) {
      expect(abort?.at, `${t.label}'s signal aborts at its deadline`).toBe(s.at + t.timeoutMs);
    } else {
      const settled = o.settles.get(t.index);
      if (abort !== undefined && settled !== undefined) {
        expect(abort.seq, `${t.label}'s signal is not aborted before it settles`).toBeGreaterThan(settled);
      }
    }
  });
  expect(o.settledAt - o.t0, "fake time the unwind took").toBe(m.durationMs);
}

function expectResult(p: Program, o: Observed, m: ModelOutcome): void {
  if (m.result.ok) {
    expect(o.result.isOk(), `result ok (got ${o.result.isErr() ? o.result.error.message : ""})`).toBe(true);
    if (o.result.isOk()) expect(o.result.value).toBe(m.result.value === "body" ? o.okValue : undefined);
    return;
  }
  expect(o.result.isErr(), "result err").toBe(true);
  if (!o.result.isErr()) return;
  const e = o.result.error;
  expect(isTransactionError(e)).toBe(true);
  expect(e).toBeInstanceOf(TransactionError);
  expect(e).toBeInstanceOf(Error);
  expect(
    e.cleanupFailures.map((f) => f.label),
    "failure labels",
  ).toEqual(m.failures.map((f) => f.label));
  m.failures.forEach((f, k) => {
    const actual = e.cleanupFailures[k]!.error;
    if (f.error.from === "noted") {
      expect(actual, `noted failure ${f.label}`).toBe(o.notedValues.get(f.error.index));
      return;
    }
    const spec = p.cleanups[f.index - 1]!;
    if (engineMadeFailure(spec.behaviour) === "refused") {
      expect(actual, `${f.label} was refused`).toBeInstanceOf(TypeError);
    } else if (spec.behaviour.kind === "hang") {
      expect(actual).toBeInstanceOf(CleanupTimeoutError);
      const t = actual as CleanupTimeoutError;
      expect(t.label).toBe(f.label);
      expect(t.timeoutMs).toBe(timeoutOf(p, spec));
    } else {
      expect(actual, `failure value of ${f.label}`).toBe(o.failureValues.get(f.index));
    }
  });
  expect(
    e.retained.map((r) => r.label),
    "retained",
  ).toEqual(m.retained.map((r) => r.label));
  expect(e.cause, "primary cause").toBe(valueOf(p, o, m.result.cause));
  expect(e.origin, "origin of the cause").toBe(m.result.origin);
  const prefixes = messagePrefixes(e.cause);
  expect(
    prefixes.some((x) => e.message.startsWith(x)),
    `message ${JSON.stringify(e.message)} starts with the cause (${prefixes.join(" | ")})`,
  ).toBe(true);
  for (const f of m.failures) expect(e.message).toContain(f.label);
  for (const r of m.retained) expect(e.message).toContain(r.label);
}

function expectEventsConsistent(o: Observed, m: ModelOutcome): void {
  // The late acquisition of R9 is released outside the unwind.
  const started = o.events.flatMap((e) => (e.type === "cleanup:started" && e.label !== "late" ? [e.label] : []));
  expect(started, "cleanup:started events").toEqual(m.turns.map((t) => t.label));
  const finished = o.events.filter((e) => e.type === "transaction:finished");
  expect(finished).toHaveLength(1);
  expect(finished[0]!.type === "transaction:finished" && finished[0]!.ok).toBe(m.result.ok);
}

/** The full comparison with the model. */
function expectMatchesModel(p: Program, o: Observed, m: ModelOutcome): void {
  expect(o.problems).toEqual([]);
  expectTurns(p, o, m);
  expectTimes(p, o, m);
  expectResult(p, o, m);
  expectEventsConsistent(o, m);
  expect(o.sequence, "code after a yielded err never runs").not.toContain("after-yield");
  expect(unhandled, "no unhandled rejection").toEqual([]);
}

async function check(p: Program, extras?: Extras): Promise<{ o: Observed; m: ModelOutcome }> {
  const m = runModel(p);
  const o = await execute(p, extras);
  return { o, m };
}

// ---------------------------------------------------------------------------------------------
// The rules

describe("the cleanup rules (semantics.md), on random programs", () => {
  test.prop(
    [programArb({ kinds: ["always", "always", "always", "error", "success"], behaviours: [...ALL, ...CLEARING] })],
    {
      numRuns: RUNS,
    },
  )("R1: cleanups run after the body, one at a time, LIFO, each at most once", async (p) => {
    const { o, m } = await check(p);
    const ran = o.starts.map((s) => s.index);
    expect(new Set(ran).size, "each cleanup runs at most once").toBe(ran.length);
    expect(
      [...ran].sort((a, b) => b - a),
      "reverse order of registration",
    ).toEqual(ran);
    const endMark = GENERATOR_FORMS.includes(p.form) ? o.sequence.indexOf("finally") : -1;
    if (endMark >= 0) {
      const firstStart = o.sequence.findIndex((s) => s.startsWith("start:"));
      if (firstStart >= 0) expect(firstStart).toBeGreaterThan(endMark);
    }
    // One at a time: each cleanup starts no earlier than the previous one's span ended.
    const always = p.cleanups.every((c) => c.kind === "always" && !c.dismissed);
    if (always) expect(ran).toEqual(p.cleanups.map((_, k) => k + 1).reverse());
    expectMatchesModel(p, o, m);
  });

  test.prop(
    [
      programArb({
        behaviours: [...SUCCEEDING, ...FAILING, "setRetErr", "setRetErr", "clearRetErr", "hang"],
        timeouts: false,
      }),
    ],
    { numRuns: RUNS },
  )("R2: error cleanups run iff retErr is set at their turn, success iff unset, always always", async (p) => {
    const { o, m } = await check(p);
    for (const s of o.starts) {
      const kind = p.cleanups[s.index - 1]!.kind;
      if (kind === "error") expect(s.failed, `${s.label} (error) ran with retErr set`).toBe(true);
      if (kind === "success") expect(s.failed, `${s.label} (success) ran with retErr unset`).toBe(false);
    }
    const skipped = o.events.flatMap((e) => (e.type === "cleanup:skipped" && e.reason === "kind" ? [e.label] : []));
    expect(skipped, "cleanup:skipped (kind) events").toEqual(
      m.skippedByKind.map((i) => labelOf(p.cleanups[i - 1]!, i)),
    );
    expectMatchesModel(p, o, m);
  });

  test.prop(
    [
      programArb({
        behaviours: [...SUCCEEDING, ...FAILING, ...FAILING, "hang", "setRetErr", "clearRetErr"],
        guardRate: 0.5,
        maxNoted: 2,
      }),
    ],
    { numRuns: RUNS },
  )("R3: a guarded cleanup after a failure in this unwind is skipped and retained", async (p) => {
    const { o, m } = await check(p);
    const retainedEvents = o.events.flatMap((e) => (e.type === "cleanup:retained" ? [e.label] : []));
    expect(retainedEvents, "cleanup:retained events").toEqual(m.retained.map((r) => r.label));
    for (const s of o.starts) {
      if (p.cleanups[s.index - 1]!.guard) expect(s.failuresSoFar, `${s.label} is guarded`).toEqual([]);
    }
    expectMatchesModel(p, o, m);
  });

  test.prop(
    [
      programArb({
        behaviours: [
          ...SUCCEEDING,
          ...FAILING,
          ...FAILING,
          "slowErr",
          "hang",
          "setRetErr",
          "setRetErrThenThrow",
          ...CLEARING,
        ],
        guardRate: 0.2,
        maxNoted: 2,
      }),
    ],
    { numRuns: RUNS },
  )("R4: a cleanup failure never stops the unwind, never replaces a set retErr, and is recorded", async (p) => {
    const { o, m } = await check(p);
    const replaces = (c: CleanupSpec): boolean =>
      c.behaviour.kind.startsWith("setRetErr") || c.behaviour.kind === "clearRetErr";
    if (p.end !== "ok" && !p.cleanups.some(replaces)) {
      // The body's failure stays the primary cause whatever the cleanups do.
      expect(o.result.isErr() && o.result.error.cause).toBe(o.bodyError);
    }
    expectMatchesModel(p, o, m);
  });

  test.prop(
    [
      programArb({
        behaviours: [...SUCCEEDING, "setRetErr", "setRetErr", "setRetErrThenThrow", "throw", ...CLEARING, ...CLEARING],
        timeouts: false,
        maxNoted: 1,
      }),
    ],
    { numRuns: RUNS },
  )("R5: a cleanup reads retErr and may replace it; setting it is not a failure", async (p) => {
    const { o, m } = await check(p);
    if (o.result.isErr()) {
      const setters = o.result.error.cleanupFailures.filter((f) => {
        const i = o.starts.find((s) => s.label === f.label)?.index;
        return i !== undefined && p.cleanups[i - 1]!.behaviour.kind === "setRetErr";
      });
      expect(setters, "setRetErr alone is never a failure").toEqual([]);
    }
    expectMatchesModel(p, o, m);
  });

  test.prop(
    [
      programArb({
        behaviours: ["hang", "hang", "slow", "slowErr", "abortCaller", "void", "throw"],
        guardRate: 0.2,
        maxCleanups: 5,
      }),
    ],
    { numRuns: RUNS },
  )("R6: each cleanup has its own signal and deadline; the unwind moves on at the deadline", async (p) => {
    const { o, m } = await check(p);
    if (
      p.cleanups.some((c) => c.behaviour.kind === "abortCaller") &&
      o.starts.some((s) => p.cleanups[s.index - 1]!.behaviour.kind === "abortCaller")
    ) {
      expect(o.callerSignal.aborted).toBe(true);
    }
    expectMatchesModel(p, o, m);
  });

  test.prop([programArb({ behaviours: [...ALL, ...CLEARING], guardRate: 0.3, dismissRate: 0.2, maxNoted: 2 })], {
    numRuns: RUNS,
  })("R7: the Result is ok iff retErr is unset at the end; err keeps the primary cause on top", async (p) => {
    const { o, m } = await check(p);
    expectResult(p, o, m);
    expectMatchesModel(p, o, m);
  });

  test.prop([programArb({ behaviours: [...SUCCEEDING, ...FAILING], guardRate: 0.2, dismissRate: 0.4 })], {
    numRuns: RUNS,
  })("R8: a dismissed cleanup never runs; dismiss() is true once, then false", async (p) => {
    const { o, m } = await check(p);
    for (const i of m.dismissed) {
      expect(o.dismissResults.get(i), `dismiss() results of cleanup ${i}`).toEqual([true, false]);
      expect(
        o.starts.some((s) => s.index === i),
        `dismissed cleanup ${i} did not run`,
      ).toBe(false);
    }
    p.cleanups.forEach((c, k) => {
      if (c.via === "defer" || c.via === "errdefer") expect(o.handleLabels.get(k + 1)).toBe(labelOf(c, k + 1));
    });
    const dismissedEvents = o.events.flatMap((e) =>
      e.type === "cleanup:skipped" && e.reason === "dismissed" ? [e.label] : [],
    );
    expect([...dismissedEvents].sort(), "cleanup:skipped (dismissed) events").toEqual(
      m.dismissed.map((i) => labelOf(p.cleanups[i - 1]!, i)).sort(),
    );
    expectMatchesModel(p, o, m);
  });

  test.prop(
    [
      programArb({ behaviours: [...SUCCEEDING, "throw", "hang", "slow"], guardRate: 0.2, maxCleanups: 5 }),
      fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant<"after">("after")),
    ],
    { numRuns: RUNS },
  )("R9: registering after the body ended throws; a late acquisition is released at once", async (p, at) => {
    const m = runModel(p);
    const lateAcquireAt = at === "after" || at > m.turns.length ? "after" : at;
    const o = await execute(p, { lateAcquireAt, registerFromCleanups: true });
    expect(o.registerAttempts).toHaveLength(m.turns.length + 1);
    for (const a of o.registerAttempts) expect(a).toBeInstanceOf(TransactionClosedError);
    const late = o.late!;
    expect(late.resolvedAt, "the late acquisition resolved").toBeDefined();
    expect(late.releases, "the late resource is released exactly once").toHaveLength(1);
    expect(late.releases[0]!.resource).toBe(late.resource);
    expect(late.releases[0]!.at, "released at once").toBe(late.resolvedAt);
    expect(late.releasedWithinMicrotasks, "released before the next macrotask").toBe(true);
    expect(late.result?.isErr(), "the late acquisition is an err").toBe(true);
    if (late.result?.isErr()) expect(late.result.error).toBeInstanceOf(TransactionClosedError);
    expectMatchesModel(p, o, m);
  });

  test.prop(
    [
      programArb({
        forms: GENERATOR_FORMS,
        ends: ["yieldErr", "yieldErr", "ok", "err", "throw"],
        behaviours: [...ALL, ...CLEARING],
      }),
    ],
    {
      numRuns: RUNS,
    },
  )("R10: a generator body that yields an err is closed (its finally runs) before the unwind", async (p) => {
    const { o, m } = await check(p);
    const fin = o.sequence.indexOf("finally");
    expect(fin, "the generator's finally ran").toBeGreaterThanOrEqual(0);
    expect(o.sequence.lastIndexOf("finally"), "once").toBe(fin);
    const firstStart = o.sequence.findIndex((s) => s.startsWith("start:"));
    if (firstStart >= 0) expect(firstStart, "finally before the first cleanup").toBeGreaterThan(fin);
    if (p.end === "yieldErr" && o.result.isErr() && o.result.error.origin === "err") {
      expect(o.result.error.cause).toBe(o.bodyError);
    }
    expectMatchesModel(p, o, m);
  });
});
