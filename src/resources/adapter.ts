// The resource adapter: a kind of resource described as data, so that a different process can
// release what this one acquired (after a crash, through the journal).
import type { Result, ResultAsync } from "neverthrow";
import type { CleanupReturn } from "../engine/types.js";
import type { JsonValue } from "../internal/json.js";

/** What an adapter's operations receive. */
export interface ResourceContext {
  /** Aborts the operation (the transaction's signal for acquire; the cleanup's own for release). */
  readonly signal: AbortSignal;
}

/**
 * A kind of resource. `plan` chooses the identity (names, ids) before anything is acquired; that
 * plan is journalled as the intent, so `release(plan)` must be able to release whatever a
 * half-finished `acquire(plan)` left behind, and must succeed when there is nothing to release
 * (it runs again after a crash). Identities must be unique to one acquisition (random ids, or an
 * owner token that `release` checks), so that releasing a plan whose acquisition never happened
 * can never touch somebody else's resource.
 */
// Description is JSON by contract (it is written to the journal); it is not constrained to
// JsonValue in the type, because interfaces without index signatures would not fit.
export interface ResourceAdapter<Spec = never, Resource = unknown, Description = JsonValue, E = unknown> {
  /** Names the adapter in journals; unique among the adapters given to `recover`. */
  readonly kind: string;
  /** Chooses the identity of the resource before it exists. Pure: no I/O. */
  plan(spec: Spec): Description;
  /** Acquires the planned resource. An err or a throw is the acquisition's failure. */
  acquire(
    plan: Description,
    ctx: ResourceContext,
  ):
    | Resource
    | PromiseLike<Resource>
    | Result<Resource, E>
    | ResultAsync<Resource, E>
    | PromiseLike<Result<Resource, E>>;
  /**
   * Describes an acquired resource as JSON (at least what `plan` said, possibly more). `plan` is
   * the plan it was acquired for, so that a resource need not carry its own identity to be
   * described; a describe that takes only the resource is fine too.
   */
  describe(resource: Resource, plan: Description): Description;
  /** Releases a described (or only planned) resource; idempotent. */
  release(description: Description, ctx: ResourceContext): CleanupReturn;
}

/** Any adapter, as `recover` and `releaseHeld` take them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyResourceAdapter = ResourceAdapter<any, any, any, any>;

/** Indexes adapters by kind, refusing duplicates and bad kinds. */
export function adapterMap(
  adapters: readonly AnyResourceAdapter[] | ReadonlyMap<string, AnyResourceAdapter>,
): ReadonlyMap<string, AnyResourceAdapter> {
  if (adapters instanceof Map) return adapters;
  const byKind = new Map<string, AnyResourceAdapter>();
  for (const [i, adapter] of (adapters as readonly AnyResourceAdapter[]).entries()) {
    if (typeof adapter?.kind !== "string" || adapter.kind === "") {
      throw new TypeError(`adapters[${i}].kind must be a non-empty string`);
    }
    for (const op of ["plan", "acquire", "describe", "release"] as const) {
      if (typeof adapter[op] !== "function")
        throw new TypeError(`adapters[${i}] (${adapter.kind}).${op} must be a function`);
    }
    if (byKind.has(adapter.kind)) throw new TypeError(`adapters[${i}]: kind "${adapter.kind}" is given twice`);
    byKind.set(adapter.kind, adapter);
  }
  return byKind;
}
