// parseHeld(): a `Held` read back from storage (JSON), checked before releaseHeld trusts it. The
// first field that is wrong is named, with the reason, so that a damaged record says where.
import { err, ok, type Result } from "neverthrow";
import { brand } from "../internal/brand.js";
import type { Held, HeldResource } from "./types.js";

const invalidHeldBrand = brand("InvalidHeldError");

/** A value given to `parseHeld` that is not a `Held`: `field` names the first wrong field. */
export class InvalidHeldError extends TypeError {
  override readonly name = "InvalidHeldError";
  readonly code = "invalid-held";
  /** The path of the wrong field, as `held.resources[2].guard`. */
  readonly field: string;
  /** What is wrong with it. */
  readonly reason: string;

  constructor(field: string, reason: string) {
    super(`${field} ${reason}`);
    this.field = field;
    this.reason = reason;
    invalidHeldBrand.mark(this);
  }
}

/** Whether `value` is an InvalidHeldError, also across copies of this module. */
export function isInvalidHeldError(value: unknown): value is InvalidHeldError {
  return invalidHeldBrand.is(value);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isName = (v: unknown): v is string => typeof v === "string" && v !== "";

/** The path of the first part of `value` that is not JSON (NaN, a function, a class instance...). */
function notJsonAt(value: unknown, at: string): string | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : at;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const bad = notJsonAt(v, `${at}[${i}]`);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  if (!isObject(value) || Object.getPrototypeOf(value) !== Object.prototype) return at;
  for (const [k, v] of Object.entries(value)) {
    const bad = notJsonAt(v, `${at}.${k}`);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

function checkResource(value: unknown, at: string, earlier: ReadonlySet<string>): InvalidHeldError | undefined {
  if (!isObject(value)) return new InvalidHeldError(at, "must be an object");
  const { step, kind, guard, after } = value;
  if (!isName(step)) return new InvalidHeldError(`${at}.step`, "must be a non-empty string");
  if (earlier.has(step)) return new InvalidHeldError(`${at}.step`, `"${step}" is given twice`);
  if (!isName(kind)) return new InvalidHeldError(`${at}.kind`, "must be a non-empty string");
  if (typeof guard !== "boolean") return new InvalidHeldError(`${at}.guard`, "must be a boolean");
  if (!("description" in value)) return new InvalidHeldError(`${at}.description`, "is missing");
  const bad = notJsonAt(value.description, `${at}.description`);
  if (bad !== undefined)
    return new InvalidHeldError(
      bad,
      "must be JSON (null, a boolean, a finite number, a string, an array or a plain object)",
    );
  if (after === undefined) return undefined;
  if (!Array.isArray(after)) return new InvalidHeldError(`${at}.after`, "must be an array of step names");
  for (const [i, name] of (after as unknown[]).entries()) {
    if (!isName(name) || !earlier.has(name)) {
      return new InvalidHeldError(
        `${at}.after[${i}]`,
        `names ${JSON.stringify(name)}, which is not an earlier resource`,
      );
    }
  }
  return undefined;
}

/**
 * Checks that `value` (a `Held` read back from JSON, say) is a `Held`: `saga` a string, `tx` a
 * non-empty string, each resource with a unique non-empty `step`, a non-empty `kind`, a boolean
 * `guard`, a JSON `description`, and an `after` (when present) naming earlier resources. Returns it
 * as a `Held`, or an err `InvalidHeldError` naming the first field that is wrong. Nothing is copied.
 */
export function parseHeld(value: unknown): Result<Held, InvalidHeldError> {
  if (!isObject(value)) return err(new InvalidHeldError("held", "must be an object"));
  if (typeof value.saga !== "string") return err(new InvalidHeldError("held.saga", "must be a string"));
  if (!isName(value.tx)) return err(new InvalidHeldError("held.tx", "must be a non-empty string"));
  if (!Array.isArray(value.resources)) return err(new InvalidHeldError("held.resources", "must be an array"));
  const steps = new Set<string>();
  for (const [i, r] of (value.resources as unknown[]).entries()) {
    const problem = checkResource(r, `held.resources[${i}]`, steps);
    if (problem !== undefined) return err(problem);
    steps.add((r as HeldResource).step);
  }
  return ok(value as unknown as Held);
}
