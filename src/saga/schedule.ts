// The forward half of R13: each step starts once every step it depends on has succeeded (or was
// skipped), within the concurrency bound; the first failure stops the run from starting any
// other step and asks the steps in flight to stop; the run ends when none is in flight.
import { err, type Result } from "neverthrow";
import type { Edges } from "./graph.js";

/** How a step failed (see run.ts). */
export interface Failed {
  /** The step, or undefined for the caller's abort (noticed when a step was about to start). */
  readonly step: number | undefined;
  readonly error: unknown;
  readonly thrown: boolean;
}

export interface Schedule {
  readonly edges: Edges;
  readonly limit: number;
  readonly callerSignal: AbortSignal | undefined;
  /** Runs step `k`; an err is its failure. */
  readonly start: (k: number) => Promise<Result<unknown, { readonly error: unknown; readonly thrown: boolean }>>;
  /** Called once, at the first failure: the steps in flight are asked to stop. */
  readonly onFirstFailure: (failure: Failed) => void;
}

/** Runs the steps; resolves, once none is in flight, to the failures in the order they happened. */
export function runScheduled(s: Schedule): Promise<readonly Failed[]> {
  const waiting = s.edges.map((deps) => deps.length);
  const dependents: number[][] = s.edges.map(() => []);
  s.edges.forEach((deps, k) => {
    for (const d of deps) dependents[d]!.push(k);
  });
  // In the order they became ready; steps ready together in declaration order.
  const ready = waiting.flatMap((w, k) => (w === 0 ? [k] : []));
  const failures: Failed[] = [];
  let inFlight = 0;
  return new Promise((resolve) => {
    const fail = (failure: Failed): void => {
      failures.push(failure);
      if (failures.length === 1) s.onFirstFailure(failure);
    };
    const pump = (): void => {
      while (failures.length === 0 && ready.length > 0 && inFlight < s.limit) {
        // The caller gave up: no step starts any more (a chain: "before its next step").
        if (s.callerSignal?.aborted === true) {
          fail({ step: undefined, error: s.callerSignal.reason, thrown: true });
          break;
        }
        const k = ready.shift()!;
        inFlight++;
        void s
          .start(k)
          .catch((error: unknown) => err({ error, thrown: true }))
          .then((outcome) => {
            inFlight--;
            if (outcome.isErr()) fail({ step: k, ...outcome.error });
            else for (const d of dependents[k]!) if ((waiting[d] = waiting[d]! - 1) === 0) ready.push(d);
            pump();
          });
      }
      if (inFlight === 0) resolve(failures);
    };
    pump();
  });
}
