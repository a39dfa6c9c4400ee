// A reference model of DAG sagas (R12, R13 of semantics.md, with R1-R11 where they still speak),
// written from the rules: given a program (steps with their dependencies, durations, outcomes,
// compensations), it simulates fake time and says when each step and each compensation starts,
// what fails, what is retained and what the run returns. Timers that fire at the same fake time
// fire in the order they were set, and everything a timer sets off settles before the next one
// fires (vitest's runAllTimersAsync), so the simulation is an event queue ordered by (time, order
// set).

export interface DagCompensation {
  readonly on: "error" | "always";
  readonly guard: boolean;
  /** `sync`: returns at once; `throwSync`: throws; `delay` / `failAfter`: settles after delayMs. */
  readonly behaviour: "sync" | "throwSync" | "delay" | "failAfter";
  readonly delayMs: number;
}

export interface DagStep {
  /** Earlier steps it depends on; undefined: the one declared just before it. */
  readonly after: readonly number[] | undefined;
  /** `when` says no: its output is undefined and it takes no time. */
  readonly skipped: boolean;
  readonly durationMs: number;
  /** How its run ends after durationMs: ok, an err, or a rejection. */
  readonly outcome: "ok" | "err" | "throw";
  /** Rejects as soon as the run's signal aborts (a step that listens to `signal`). */
  readonly abortable: boolean;
  readonly compensation: DagCompensation | undefined;
}

export interface DagProgram {
  readonly steps: readonly DagStep[];
  readonly concurrency: number | undefined;
}

export type StepFailureHow = "err" | "throw" | "aborted";

export interface DagOutcome {
  /** Steps that ran (skipped ones excluded), in the order they started, with their fake times. */
  readonly steps: readonly { readonly k: number; readonly startsAt: number; readonly endsAt: number }[];
  readonly skipped: readonly number[];
  /** Step failures in the order they happened: the first is the primary cause (R13). */
  readonly failures: readonly { readonly k: number; readonly how: StepFailureHow }[];
  /** Compensations that ran, in the order they started. */
  readonly compensations: readonly {
    readonly k: number;
    readonly startsAt: number;
    readonly endsAt: number;
    readonly failed: boolean;
  }[];
  readonly retained: readonly number[];
  /** Compensations whose failure was recorded, in order (R4). */
  readonly cleanupFailures: readonly number[];
  readonly result:
    | { readonly ok: true }
    | {
        readonly ok: false;
        readonly cause: { readonly from: "step" | "compensation"; readonly k: number };
        readonly origin: "err" | "throw" | "cleanup";
      };
  /** When the steps are over (the rollback starts), and when the run settles. */
  readonly forwardEndsAt: number;
  readonly durationMs: number;
}

/** Each step's direct dependencies (R13: default the step just before). */
export function edgesOf(p: DagProgram): number[][] {
  return p.steps.map((s, k) => [...(s.after ?? (k > 0 ? [k - 1] : []))]);
}

/** For each step, every step it depends on, transitively. */
export function ancestorsOf(edges: readonly (readonly number[])[]): Set<number>[] {
  const anc: Set<number>[] = [];
  edges.forEach((deps, k) => {
    const all = new Set<number>();
    for (const d of deps) {
      all.add(d);
      for (const a of anc[d]!) all.add(a);
    }
    anc[k] = all;
  });
  return anc;
}

/** A queue of timers ordered by (time, order set). */
class Timers<T> {
  #seq = 0;
  readonly #items: { at: number; seq: number; item: T }[] = [];
  set(at: number, item: T): void {
    this.#items.push({ at, seq: this.#seq++, item });
  }
  cancel(pred: (item: T) => boolean): void {
    for (let i = this.#items.length - 1; i >= 0; i--) if (pred(this.#items[i]!.item)) this.#items.splice(i, 1);
  }
  next(): { at: number; item: T } | undefined {
    if (this.#items.length === 0) return undefined;
    let best = 0;
    this.#items.forEach((x, i) => {
      const b = this.#items[best]!;
      if (x.at < b.at || (x.at === b.at && x.seq < b.seq)) best = i;
    });
    return this.#items.splice(best, 1)[0]!;
  }
}

interface Forward {
  readonly steps: { k: number; startsAt: number; endsAt: number }[];
  readonly skipped: number[];
  readonly failures: { k: number; how: StepFailureHow }[];
  /** Steps that succeeded (their compensations are registered). */
  readonly succeeded: Set<number>;
  readonly endsAt: number;
}

/** R13 forward: start when every dependency succeeded or was skipped; stop at the first failure. */
function forward(p: DagProgram, edges: readonly (readonly number[])[]): Forward {
  const limit = p.concurrency ?? Number.POSITIVE_INFINITY;
  const waiting = edges.map((d) => d.length);
  const dependents: number[][] = edges.map(() => []);
  edges.forEach((deps, k) => deps.forEach((d) => dependents[d]!.push(k)));
  const ready = waiting.flatMap((w, k) => (w === 0 ? [k] : []));
  const inFlight: number[] = [];
  const timers = new Timers<number>();
  const immediate: { k: number; how: "skip" | "aborted" }[] = [];
  const out: Forward = { steps: [], skipped: [], failures: [], succeeded: new Set(), endsAt: 0 };
  const running = new Map<number, { k: number; startsAt: number; endsAt: number }>();
  let now = 0;

  const pump = (): void => {
    while (out.failures.length === 0 && ready.length > 0 && inFlight.length < limit) {
      const k = ready.shift()!;
      inFlight.push(k);
      const s = p.steps[k]!;
      if (s.skipped) immediate.push({ k, how: "skip" });
      else {
        const rec = { k, startsAt: now, endsAt: -1 };
        out.steps.push(rec);
        running.set(k, rec);
        timers.set(now + s.durationMs, k);
      }
    }
  };
  const complete = (k: number, how: "ok" | "skip" | StepFailureHow): void => {
    inFlight.splice(inFlight.indexOf(k), 1);
    const rec = running.get(k);
    if (rec !== undefined) rec.endsAt = now;
    if (how === "skip") out.skipped.push(k);
    if (how === "ok") out.succeeded.add(k);
    if (how === "ok" || how === "skip") {
      for (const d of dependents[k]!) if (--waiting[d]! === 0) ready.push(d);
    } else {
      out.failures.push({ k, how });
      // The first failure aborts the run's signal: the steps in flight that listen reject now.
      if (out.failures.length === 1) {
        for (const j of inFlight) {
          if (p.steps[j]!.abortable && !p.steps[j]!.skipped) {
            timers.cancel((x) => x === j);
            immediate.push({ k: j, how: "aborted" });
          }
        }
      }
    }
    pump();
  };
  const drain = (): void => {
    while (immediate.length > 0) {
      const { k, how } = immediate.shift()!;
      complete(k, how);
    }
  };
  pump();
  drain();
  for (let t = timers.next(); t !== undefined; t = timers.next()) {
    now = t.at;
    complete(t.item, p.steps[t.item]!.outcome);
    drain();
  }
  return { ...out, endsAt: now };
}

/** One compensation in the unwind: its step, and the registration order (R11 on success). */
interface Node {
  readonly k: number;
  readonly comp: DagCompensation;
  /** The compensations it must wait for (R12, and R11's on-always-first on success). */
  readonly waitsFor: Set<number>;
  ended: boolean;
  bad: boolean;
}

/**
 * The undo graph: X waits for Y if Y's step depends on X's, transitively (R12), except that when
 * every step succeeded R11 runs every on-always cleanup before any on-error one: then the
 * dependencies order each kind among itself, and every on-error cleanup waits for every on-always one.
 */
function undoGraph(p: DagProgram, anc: readonly Set<number>[], fw: Forward): Node[] {
  const succeeded = fw.failures.length === 0;
  const registered = [...fw.succeeded].sort((a, b) => a - b).filter((k) => p.steps[k]!.compensation !== undefined);
  const order = succeeded
    ? [
        ...registered.filter((k) => p.steps[k]!.compensation!.on === "error"),
        ...registered.filter((k) => p.steps[k]!.compensation!.on === "always"),
      ]
    : registered;
  return order.map((k) => {
    const comp = p.steps[k]!.compensation!;
    const waitsFor = new Set<number>();
    for (const y of order) {
      const other = p.steps[y]!.compensation!.on;
      if (succeeded && comp.on === "error" && other === "always") waitsFor.add(y);
      else if (anc[y]!.has(k) && (!succeeded || other === comp.on)) waitsFor.add(y);
    }
    return { k, comp, waitsFor, ended: false, bad: false };
  });
}

/** Runs the rules over a program. */
export function runDagModel(p: DagProgram): DagOutcome {
  const edges = edgesOf(p);
  const anc = ancestorsOf(edges);
  const fw = forward(p, edges);
  const nodes = undoGraph(p, anc, fw);
  const byStep = new Map(nodes.map((n) => [n.k, n]));
  const limit = p.concurrency ?? Number.POSITIVE_INFINITY;
  const first = fw.failures[0];
  let result: DagOutcome["result"] =
    first === undefined
      ? { ok: true }
      : { ok: false, cause: { from: "step", k: first.k }, origin: first.how === "err" ? "err" : "throw" };
  const compensations: { k: number; startsAt: number; endsAt: number; failed: boolean }[] = [];
  const retained: number[] = [];
  const cleanupFailures: number[] = [];
  const timers = new Timers<number>();
  let now = fw.endsAt;
  let running = 0;
  const started = new Set<number>();

  const end = (n: Node, bad: boolean): void => {
    n.ended = true;
    // R12's guard: a failure or a retention taints what it was built on (and what it waits for).
    n.bad = bad || [...n.waitsFor].some((y) => byStep.get(y)!.bad);
  };
  const fail = (n: Node): void => {
    cleanupFailures.push(n.k);
    if (result.ok) result = { ok: false, cause: { from: "compensation", k: n.k }, origin: "cleanup" };
  };
  const pump = (): void => {
    for (;;) {
      if (running >= limit) return;
      // Ready: not started, everything it waits for ended; the latest registered first.
      const ready = nodes.filter((n) => !started.has(n.k) && [...n.waitsFor].every((y) => byStep.get(y)!.ended));
      const n = ready.at(-1);
      if (n === undefined) return;
      started.add(n.k);
      // R2 at its start; then R12's guard.
      if (n.comp.on === "error" && result.ok) {
        end(n, false);
        continue;
      }
      if (n.comp.guard && [...n.waitsFor].some((y) => byStep.get(y)!.bad)) {
        retained.push(n.k);
        end(n, true);
        continue;
      }
      const rec = { k: n.k, startsAt: now, endsAt: now, failed: false };
      compensations.push(rec);
      if (n.comp.behaviour === "sync" || n.comp.behaviour === "throwSync") {
        rec.failed = n.comp.behaviour === "throwSync";
        if (rec.failed) fail(n);
        end(n, rec.failed);
        continue;
      }
      running++;
      timers.set(now + n.comp.delayMs, n.k);
    }
  };
  pump();
  for (let t = timers.next(); t !== undefined; t = timers.next()) {
    now = t.at;
    const n = byStep.get(t.item)!;
    const rec = compensations.find((c) => c.k === n.k)!;
    rec.endsAt = now;
    rec.failed = n.comp.behaviour === "failAfter";
    if (rec.failed) fail(n);
    end(n, rec.failed);
    running--;
    pump();
  }
  return {
    steps: fw.steps,
    skipped: fw.skipped,
    failures: fw.failures,
    compensations,
    retained,
    cleanupFailures,
    result,
    forwardEndsAt: fw.endsAt,
    durationMs: now,
  };
}
