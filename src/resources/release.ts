// Releasing a described resource through its adapter: shared by the saga's rollback, releaseHeld
// (Stop) and recover. Recording the outcome is the caller's (the saga layer's journal writer).
import { err, ok, type Result } from "neverthrow";
import { isResult, isThenable } from "../engine/deadline.js";
import { brand } from "../internal/brand.js";
import type { JsonValue } from "../internal/json.js";
import type { AnyResourceAdapter } from "./adapter.js";

const missingAdapterBrand = brand("MissingAdapterError");

/** No adapter was given for a kind found in a journal or a held record. Nothing was released. */
export class MissingAdapterError extends Error {
  override readonly name = "MissingAdapterError";
  readonly code = "missing-adapter";
  constructor(readonly kind: string) {
    super(`no adapter for resource kind "${kind}": not released (pass its adapter to release it)`);
    missingAdapterBrand.mark(this);
  }
}

/** Whether `value` is a MissingAdapterError, also across copies of this module. */
export function isMissingAdapterError(value: unknown): value is MissingAdapterError {
  return missingAdapterBrand.is(value);
}

/** Settles anything a step or an adapter may return into a Result: an err or a throw is a failure. */
export async function settleToResult(produce: () => unknown): Promise<Result<unknown, unknown>> {
  try {
    let value = produce();
    if (isThenable(value)) value = await value;
    if (isResult(value)) return value as Result<unknown, unknown>;
    return ok(value);
  } catch (error) {
    return err(error);
  }
}

/** Which adapter releases a resource, and the kind it was journalled under (to name a missing adapter). */
export interface ReleaseTarget {
  readonly adapter: AnyResourceAdapter | undefined;
  readonly kind: string;
}

/** Releases `desc` through the target's adapter; without an adapter, a MissingAdapterError. */
export async function releaseResource(
  target: ReleaseTarget,
  desc: JsonValue,
  signal: AbortSignal,
): Promise<Result<void, unknown>> {
  if (target.adapter === undefined) return err(new MissingAdapterError(target.kind));
  const { adapter } = target;
  const released = await settleToResult(() => adapter.release(desc, { signal }));
  return released.isOk() ? ok(undefined) : err(released.error);
}
