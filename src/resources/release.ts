// Releasing a described resource through its adapter, with the outcome journalled: shared by the
// saga's rollback, releaseHeld (Stop) and recover.
import { err, ok, type Result } from "neverthrow";
import { isResult, isThenable } from "../engine/deadline.js";
import type { Journal } from "../journal/journal.js";
import { JOURNAL_FORMAT_VERSION } from "../journal/records.js";
import { describeError } from "../engine/errors.js";
import type { CleanupContext } from "../engine/types.js";
import { brand } from "../internal/brand.js";
import type { AnyResourceAdapter, JsonValue } from "./adapter.js";

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

export interface ReleaseTarget {
  readonly adapter: AnyResourceAdapter | undefined;
  readonly kind: string;
  readonly step: string;
  readonly tx: string;
  readonly journal: Journal | undefined;
}

/** Releases `desc` and journals `released` or `release-failed`; a journal write failure is not a release failure. */
export async function releaseResource(
  target: ReleaseTarget,
  desc: JsonValue,
  ctx: CleanupContext,
): Promise<Result<void, unknown>> {
  const { adapter, kind, step, tx, journal } = target;
  const released =
    adapter === undefined
      ? err(new MissingAdapterError(kind))
      : await settleToResult(() => adapter.release(desc, { signal: ctx.signal }));
  if (journal !== undefined) {
    // Lazy: if this record is lost in a crash, recovery releases again, and release is idempotent.
    const record = released.isOk()
      ? { v: JOURNAL_FORMAT_VERSION, tx, t: "released" as const, step }
      : { v: JOURNAL_FORMAT_VERSION, tx, t: "release-failed" as const, step, error: describeError(released.error) };
    await journal.append(record, false).catch(() => undefined);
  }
  return released.isOk() ? ok(undefined) : err(released.error);
}
