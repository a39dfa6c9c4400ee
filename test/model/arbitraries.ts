// Shared arbitraries of the rule properties: how a cleanup behaves (engine and saga tests).
import { fc } from "@fast-check/vitest";
import type { Behaviour, ValueShape } from "./model.js";

export type BehaviourKind = Behaviour["kind"];

export const shapeArb: fc.Arbitrary<ValueShape> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<ValueShape>("error") },
  { weight: 2, arbitrary: fc.constant<ValueShape>("string") },
  { weight: 2, arbitrary: fc.constant<ValueShape>("object") },
  { weight: 1, arbitrary: fc.constant<ValueShape>("undefined") },
  { weight: 1, arbitrary: fc.constant<ValueShape>("null") },
);
/** The shapes setRetErr accepts: not nullish (R5). */
export const setShapeArb: fc.Arbitrary<ValueShape> = fc.constantFrom<ValueShape>("error", "error", "string", "object");
export const fractionArb = fc.double({ min: 0, max: 0.99, noNaN: true });

export function behaviourArb(kinds: readonly BehaviourKind[]): fc.Arbitrary<Behaviour> {
  const one = (kind: BehaviourKind): fc.Arbitrary<Behaviour> => {
    switch (kind) {
      case "void":
      case "promise":
      case "ok":
      case "okAsync":
      case "abortCaller":
      case "clearRetErr":
        return fc.constant({ kind });
      case "slow":
        return fractionArb.map((fraction) => ({ kind, fraction }));
      case "throw":
      case "reject":
      case "err":
      case "errAsync":
        return shapeArb.map((shape) => ({ kind, shape }));
      case "setRetErr":
        return setShapeArb.map((shape) => ({ kind, shape }));
      case "setRetErrNil":
        return fc.constantFrom<"undefined" | "null">("undefined", "null").map((shape) => ({ kind, shape }));
      case "slowErr":
        return fc.record({ shape: shapeArb, fraction: fractionArb }).map((r) => ({ kind, ...r }));
      case "setRetErrThenThrow":
        return fc.record({ shape: setShapeArb, shape2: shapeArb }).map((r) => ({ kind, ...r }));
      case "hang":
        return fc
          .record({
            late: fc.constantFrom<"never" | "resolve" | "reject">("never", "resolve", "reject"),
            lateMs: fc.integer({ min: 1, max: 1000 }),
          })
          .map((r) => ({ kind, ...r }));
    }
  };
  return fc.oneof(...kinds.map(one));
}

export const SUCCEEDING: readonly BehaviourKind[] = ["void", "promise", "ok", "okAsync"];
export const FAILING: readonly BehaviourKind[] = ["throw", "reject", "err", "errAsync"];
export const ALL: readonly BehaviourKind[] = [
  ...SUCCEEDING,
  ...FAILING,
  "slow",
  "slowErr",
  "setRetErr",
  "setRetErrThenThrow",
  "hang",
];
/** Go's `retErr = nil` and its wrong spelling (R5): engine properties only (a saga refuses clearing). */
export const CLEARING: readonly BehaviourKind[] = ["clearRetErr", "setRetErrNil"];
