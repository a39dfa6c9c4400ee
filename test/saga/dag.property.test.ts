// DAG sagas (R12, R13) against the reference model of test/model/dag-model.ts: random graphs
// (random `after`, skipped steps, durations, failures as errs, throws and aborts, compensations of
// both kinds, guarded or not, failing or not, sync or not, concurrency bounds), run on fake time.
// Each run is checked against the model (every start time, the order, what failed, what was
// retained, the cause and its origin, the other failures), and against the rules directly, with
// no model in between: each compensation at most once and only for a step that succeeded; none
// before the compensations of the steps built on it ended; the guard rule; the primary cause; and
// with unbounded concurrency the forward and rollback durations equal their critical paths.
import { fc, test } from "@fast-check/vitest";
import { err, type ResultAsync } from "neverthrow";
import { describe, expect, vi } from "vitest";
import {
  concurrentFailuresOf,
  saga,
  type CleanupReturn,
  type SagaRunOptions,
  type SagaSuccess,
  type TransactionError,
} from "../../src/index.js";
import {
  ancestorsOf,
  edgesOf,
  runDagModel,
  type DagCompensation,
  type DagOutcome,
  type DagProgram,
  type DagStep,
} from "../model/dag-model.js";
import { flush, useRuleHarness } from "../model/harness.js";

/** Runs per property; six properties: 1,500 random sagas per run. */
const RUNS = 250;

interface Shape {
  readonly failRate: number;
  readonly guardRate: number;
  readonly compFailRate: number;
  readonly abortableRate: number;
  readonly bounded: boolean;
  readonly maxSteps: number;
}

const rate = (r: number): fc.Arbitrary<boolean> => fc.integer({ min: 0, max: 99 }).map((n) => n < r * 100);

function compArb(shape: Shape): fc.Arbitrary<DagCompensation | undefined> {
  const behaviour = fc.oneof(
    rate(shape.compFailRate).map((f) => (f ? "failAfter" : "delay") as DagCompensation["behaviour"]),
    rate(shape.compFailRate).map((f) => (f ? "throwSync" : "sync") as DagCompensation["behaviour"]),
  );
  const comp = fc.record({
    on: fc.constantFrom<DagCompensation["on"]>("error", "error", "always"),
    guard: rate(shape.guardRate),
    behaviour,
    delayMs: fc.integer({ min: 0, max: 20 }),
  });
  return fc.option(comp, { nil: undefined, freq: 6 });
}

function programArb(shape: Shape): fc.Arbitrary<DagProgram> {
  const stepArb = (k: number): fc.Arbitrary<DagStep> =>
    fc.record({
      // undefined: the default (the previous step); otherwise any subset of the earlier steps.
      after: fc.option(fc.subarray([...Array(k).keys()]), { nil: undefined, freq: 3 }),
      skipped: rate(0.1),
      durationMs: fc.integer({ min: 0, max: 20 }),
      outcome: rate(shape.failRate).chain((f) =>
        f ? fc.constantFrom<DagStep["outcome"]>("err", "throw") : fc.constant<DagStep["outcome"]>("ok"),
      ),
      abortable: rate(shape.abortableRate),
      compensation: compArb(shape),
    });
  return fc.integer({ min: 1, max: shape.maxSteps }).chain((n) =>
    fc.record({
      steps: fc.tuple(...[...Array(n).keys()].map(stepArb)),
      concurrency: shape.bounded
        ? fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })
        : fc.constant(undefined),
    }),
  );
}

const base: Shape = {
  failRate: 0.15,
  guardRate: 0.3,
  compFailRate: 0.2,
  abortableRate: 0.3,
  bounded: true,
  maxSteps: 8,
};

// ---------------------------------------------------------------------------------------------
// Running a program

interface LooseSaga {
  step(name: string, def: object): LooseSaga;
  run(input: undefined, options?: SagaRunOptions): ResultAsync<SagaSuccess<Record<string, unknown>>, TransactionError>;
}

/** One line of what happened, in the order it happened, at its fake time. */
interface Happened {
  readonly what: "step:start" | "step:end" | "comp:start" | "comp:end";
  readonly k: number;
  readonly at: number;
}

interface Observed {
  readonly t0: number;
  readonly settledAt: number;
  readonly log: readonly Happened[];
  readonly result: Awaited<ReturnType<LooseSaga["run"]>>;
  readonly stepErrors: ReadonlyMap<number, unknown>;
  readonly compErrors: ReadonlyMap<number, unknown>;
  readonly problems: readonly string[];
}

const unhandled = useRuleHarness();
let runCounter = 0;

const name = (k: number): string => `s${k}`;

async function execute(p: DagProgram): Promise<Observed> {
  vi.clearAllTimers();
  const run = ++runCounter;
  const t0 = Date.now();
  const log: Happened[] = [];
  const stepErrors = new Map<number, unknown>();
  const compErrors = new Map<number, unknown>();
  const problems: string[] = [];
  const note = (what: Happened["what"], k: number): void => {
    log.push({ what, k, at: Date.now() - t0 });
  };
  const edges = edgesOf(p);
  const anc = ancestorsOf(edges);

  let builder = saga(`dag-${run}`) as unknown as LooseSaga;
  p.steps.forEach((s, k) => {
    const output = { step: k, run };
    const compensate =
      s.compensation === undefined ? undefined : (out: unknown) => compensation(k, s.compensation!, out, output);
    builder = builder.step(name(k), {
      ...(s.after === undefined ? {} : { after: s.after.map(name) }),
      ...(s.skipped ? { when: () => false } : {}),
      ...(s.compensation === undefined ? {} : { on: s.compensation.on, guard: s.compensation.guard }),
      run: (ctx: Record<string, unknown>, { signal }: { signal: AbortSignal }) => {
        checkContext(k, ctx);
        note("step:start", k);
        return new Promise((resolve, reject) => {
          let settled = false;
          const timer = setTimeout(() => {
            settled = true;
            note("step:end", k);
            if (s.outcome === "ok") return resolve(output);
            const e = new Error(`step ${k} failed (${run})`);
            stepErrors.set(k, e);
            if (s.outcome === "err") resolve(err(e));
            else reject(e);
          }, s.durationMs);
          if (!s.abortable) return;
          signal.addEventListener("abort", () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            note("step:end", k);
            const e = new Error(`step ${k} aborted (${run})`);
            stepErrors.set(k, e);
            reject(e);
          });
        });
      },
      ...(compensate === undefined ? {} : { compensate }),
    });
  });

  /** R13: the context holds the input and exactly the outputs of the steps it depends on. */
  function checkContext(k: number, ctx: Record<string, unknown>): void {
    const expected = ["input", ...[...anc[k]!].sort((a, b) => a - b).map(name)];
    const keys = Object.keys(ctx).sort();
    if (JSON.stringify(keys) !== JSON.stringify(expected.sort())) {
      problems.push(`step ${k} sees ${keys.join(",")}, expected ${expected.join(",")}`);
    }
  }

  function compensation(k: number, c: DagCompensation, out: unknown, expected: unknown): CleanupReturn {
    note("comp:start", k);
    if (out !== expected) problems.push(`compensation ${k} got ${JSON.stringify(out)}`);
    const e = new Error(`compensation ${k} failed (${run})`);
    switch (c.behaviour) {
      case "sync":
        note("comp:end", k);
        return undefined;
      case "throwSync":
        note("comp:end", k);
        compErrors.set(k, e);
        throw e;
      case "delay":
      case "failAfter":
        return new Promise<void>((resolve, reject) =>
          setTimeout(() => {
            note("comp:end", k);
            if (c.behaviour === "delay") return resolve();
            compErrors.set(k, e);
            reject(e);
          }, c.delayMs),
        );
    }
  }

  let result: Observed["result"] | undefined;
  let settledAt = -1;
  void builder.run(undefined, p.concurrency === undefined ? {} : { concurrency: p.concurrency }).then((r) => {
    settledAt = Date.now();
    result = r;
  });
  await vi.runAllTimersAsync();
  await flush();
  if (result === undefined) throw new Error("the saga did not settle once every timer had run");
  return { t0, settledAt, log, result, stepErrors, compErrors, problems };
}

// ---------------------------------------------------------------------------------------------
// Checking

/** What the model says must happen, exactly. */
function expectMatchesModel(p: DagProgram, o: Observed, m: DagOutcome): void {
  expect(o.problems).toEqual([]);
  const starts = (what: Happened["what"]) => o.log.filter((h) => h.what === what).map((h) => [h.k, h.at]);
  expect(starts("step:start"), "steps that ran, in order, at their fake times").toEqual(
    m.steps.map((s) => [s.k, s.startsAt]),
  );
  expect(starts("comp:start"), "compensations that ran, in order, at their fake times").toEqual(
    m.compensations.map((c) => [c.k, c.startsAt]),
  );
  expect(o.settledAt - o.t0, "fake time the saga took").toBe(m.durationMs);
  if (m.result.ok) {
    expect(o.result.isOk(), `ok (got ${o.result.isErr() ? o.result.error.message : ""})`).toBe(true);
    return;
  }
  expect(o.result.isErr(), "err").toBe(true);
  if (!o.result.isErr()) return;
  const e = o.result.error;
  const { cause } = m.result;
  const expectedCause = cause.from === "step" ? o.stepErrors.get(cause.k) : o.compErrors.get(cause.k);
  expect(e.cause, "primary cause").toBe(expectedCause);
  expect(e.origin, "origin").toBe(m.result.origin);
  expect(
    e.cleanupFailures.map((f) => f.label),
    "cleanup failures, in order",
  ).toEqual(m.cleanupFailures.map(name));
  expect(
    e.retained.map((r) => r.label),
    "retained",
  ).toEqual(m.retained.map(name));
  expect(
    concurrentFailuresOf(e).map((f) => [f.step, f.origin, f.error]),
    "the other steps that failed before the rollback began, in order",
  ).toEqual(m.failures.slice(1).map((f) => [name(f.k), f.how === "err" ? "err" : "throw", o.stepErrors.get(f.k)]));
  void p;
}

/** The rules themselves, read off what happened (no model). */
function expectRules(p: DagProgram, o: Observed): void {
  const anc = ancestorsOf(edgesOf(p));
  const index = (what: Happened["what"], k: number): number => o.log.findIndex((h) => h.what === what && h.k === k);
  const compStarts = o.log.filter((h) => h.what === "comp:start").map((h) => h.k);
  // At most once, and only for a step that succeeded (it ended, and not with a failure).
  expect(new Set(compStarts).size, "each compensation at most once").toBe(compStarts.length);
  for (const k of compStarts) {
    expect(index("step:end", k), `compensation ${k} only after its step ended`).toBeGreaterThanOrEqual(0);
    expect(o.stepErrors.has(k), `compensation ${k} only for a step that succeeded`).toBe(false);
  }
  // R12: no compensation starts before the compensations of the steps built on it have ended
  // (when every step succeeded, R11 runs the on-always ones first: then within each kind).
  const succeededRun = o.stepErrors.size === 0;
  const kind = (k: number): string | undefined => p.steps[k]!.compensation?.on;
  for (const x of compStarts) {
    for (const y of compStarts) {
      if (anc[y]!.has(x) && (!succeededRun || kind(x) === kind(y))) {
        expect(index("comp:end", y), `compensation ${y} (built on ${x}) ended before ${x} started`).toBeLessThan(
          index("comp:start", x),
        );
      }
    }
  }
  if (o.result.isErr()) {
    const e = o.result.error;
    // The guard rule: a retained compensation has something built on it that failed or was retained.
    const failedOrRetained = new Set([...e.cleanupFailures.map((f) => f.label), ...e.retained.map((r) => r.label)]);
    for (const r of e.retained) {
      const x = Number(r.label.slice(1));
      const culprit = [...failedOrRetained].some((l) => {
        const y = Number(l.slice(1));
        // R11: on the success path every on-always cleanup comes before every on-error one.
        const always = p.steps[y]?.compensation?.on === "always" && p.steps[x]!.compensation!.on === "error";
        return y !== x && ((anc[y]!.has(x) && (!succeededRun || kind(x) === kind(y))) || (succeededRun && always));
      });
      expect(culprit, `${r.label} is retained only behind a failure built on it`).toBe(true);
    }
    // The primary cause: the first step failure in time (or, if none, the first cleanup failure).
    const firstStep = o.log.find((h) => h.what === "step:end" && o.stepErrors.has(h.k));
    if (firstStep !== undefined) expect(e.cause).toBe(o.stepErrors.get(firstStep.k));
  }
}

/** The longest path through `nodes`, where `before(y, x)` says y must end before x starts. */
function criticalPath(
  nodes: readonly number[],
  cost: (k: number) => number,
  before: (y: number, x: number) => boolean,
): number {
  const ends = new Map<number, number>();
  const endOf = (x: number): number => {
    const known = ends.get(x);
    if (known !== undefined) return known;
    const start = Math.max(0, ...nodes.filter((y) => y !== x && before(y, x)).map(endOf));
    ends.set(x, start + cost(x));
    return start + cost(x);
  };
  return Math.max(0, ...nodes.map(endOf));
}

/** With unbounded concurrency, forward and rollback each take exactly their critical path. */
function expectCriticalPaths(p: DagProgram, o: Observed, m: DagOutcome): void {
  const anc = ancestorsOf(edgesOf(p));
  const all = p.steps.map((_, k) => k);
  const forward = criticalPath(
    all,
    (k) => (p.steps[k]!.skipped ? 0 : p.steps[k]!.durationMs),
    (y, x) => anc[x]!.has(y),
  );
  const stepEnds = o.log.filter((h) => h.what === "step:end").map((h) => h.at);
  expect(Math.max(0, ...stepEnds), "forward: the critical path").toBe(forward);
  const ran = o.log.filter((h) => h.what === "comp:start").map((h) => h.k);
  const cost = (k: number): number => {
    const c = p.steps[k]!.compensation!;
    return c.behaviour === "delay" || c.behaviour === "failAfter" ? c.delayMs : 0;
  };
  const rollback = criticalPath(ran, cost, (y, x) => anc[y]!.has(x));
  expect(o.settledAt - o.t0 - forward, "rollback: the critical path").toBe(rollback);
  void m;
}

async function check(p: DagProgram, extra?: (p: DagProgram, o: Observed, m: DagOutcome) => void): Promise<void> {
  const m = runDagModel(p);
  const o = await execute(p);
  expectMatchesModel(p, o, m);
  expectRules(p, o);
  extra?.(p, o, m);
  expect(unhandled, "no unhandled rejection").toEqual([]);
}

describe("DAG sagas obey R12 and R13 (random graphs against the reference model)", () => {
  test.prop([programArb(base)], { numRuns: RUNS })(
    "R13 forward: each step starts once its dependencies succeeded, sees only them, within the bound",
    async (p) => {
      await check(p);
    },
  );

  test.prop([programArb({ ...base, failRate: 0.35, abortableRate: 0.5 })], { numRuns: RUNS })(
    "R13 failure: nothing new starts, the steps in flight are aborted, the first failure is the cause, the others are kept",
    async (p) => {
      await check(p);
    },
  );

  test.prop([programArb({ ...base, failRate: 0.3, guardRate: 0.6, compFailRate: 0.4 })], { numRuns: RUNS })(
    "R12 guard: a guarded compensation is retained only behind a failure or retention built on it",
    async (p) => {
      await check(p);
    },
  );

  test.prop([programArb({ ...base, failRate: 0.25, bounded: true })], { numRuns: RUNS })(
    "R12 order: every compensation at most once, only for what succeeded, never before those built on it ended",
    async (p) => {
      await check(p);
    },
  );

  test.prop([programArb({ ...base, failRate: 0, compFailRate: 0, bounded: false })], { numRuns: RUNS })(
    "parallelism: a run that succeeds takes its critical path (on-always releases included)",
    async (p) => {
      await check(p, expectCriticalPaths);
    },
  );

  test.prop(
    [
      programArb({ ...base, failRate: 0, compFailRate: 0, guardRate: 0, abortableRate: 0, bounded: false }).map(
        (p): DagProgram => {
          // The last step fails once every other step is over: the rollback undoes them all.
          const last = p.steps.length - 1;
          const all = [...Array(last).keys()];
          const steps = p.steps.map((s, k) =>
            k === last ? { ...s, after: all, skipped: false, outcome: "err" as const } : s,
          );
          return { ...p, steps };
        },
      ),
    ],
    { numRuns: RUNS },
  )("parallelism: a rollback takes its critical path, forward and back", async (p) => {
    await check(p, expectCriticalPaths);
  });
});
