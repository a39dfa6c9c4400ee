// Turns every way a body can end (Result, ResultAsync, Promise, throw, generator) into one outcome.
import { describeError } from "./errors.js";
import { isResult, isThenable } from "./deadline.js";
import type { Transaction } from "./types.js";

export type BodyOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown; readonly origin: "err" | "throw" };

type AnyGenerator = Generator<unknown, unknown> | AsyncGenerator<unknown, unknown>;

/**
 * Runs the body. A synchronous or generator body ends here (an outcome, or a Promise of one for
 * an async generator); a body returning a thenable hands it back for the caller to await directly
 * (one await instead of two on the hot path) and pass to `fromReturn`.
 */
export function runBody(
  body: (tx: Transaction) => unknown,
  tx: Transaction,
): BodyOutcome | Promise<BodyOutcome> | { readonly pending: PromiseLike<unknown> } {
  let returned: unknown;
  try {
    returned = body(tx);
  } catch (error) {
    return thrown(error);
  }
  if (isGenerator(returned)) {
    return Symbol.asyncIterator in returned
      ? driveAsync(returned as AsyncGenerator<unknown, unknown>)
      : driveSync(returned as Generator<unknown, unknown>);
  }
  return isThenable(returned) ? { pending: returned } : fromReturn(returned);
}

export function thrown(error: unknown): BodyOutcome {
  return { ok: false, error, origin: "throw" };
}

export function fromReturn(value: unknown): BodyOutcome {
  if (isResult(value)) {
    const r = value as { isErr(): boolean; error?: unknown; value?: unknown };
    return r.isErr() ? { ok: false, error: r.error, origin: "err" } : { ok: true, value: r.value };
  }
  // The same fixes as the type error (CheckBody in types.ts) names.
  const fix =
    value === undefined ? "return ok(value), or ok(undefined) when there is none" : "wrap the value in ok(...)";
  return thrown(new TypeError(`transaction body must return a Result: ${fix} (got ${describeValue(value)})`));
}

// A generator body only yields when `yield*` met an err (neverthrow's style): that is its exit.
function fromYield(value: unknown): BodyOutcome {
  if (isResult(value) && value.isErr()) return { ok: false, error: value.error, origin: "err" };
  return thrown(
    new TypeError(`a generator body may only yield err Results (use yield* on a Result), got ${describeValue(value)}`),
  );
}

function describeValue(value: unknown): string {
  return value === null || typeof value !== "object" ? describeError(value) : "an object that is not a Result";
}

function isGenerator(value: unknown): value is AnyGenerator {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { next?: unknown }).next === "function" &&
    typeof (value as { return?: unknown }).return === "function" &&
    (Symbol.iterator in value || Symbol.asyncIterator in value)
  );
}

// Bound so that a generator which yields again inside its finally cannot keep us looping.
const MAX_CLOSE_STEPS = 100;

function driveSync(gen: Generator<unknown, unknown>): BodyOutcome {
  let step: IteratorResult<unknown, unknown>;
  try {
    step = gen.next();
    if (step.done === true) return fromReturn(step.value);
    const outcome = fromYield(step.value);
    // R10: close the generator so its finally blocks run before the unwind.
    for (let n = 0, r = gen.return(undefined); r.done !== true && n < MAX_CLOSE_STEPS; n++) r = gen.return(undefined);
    return outcome;
  } catch (error) {
    return thrown(error);
  }
}

async function driveAsync(gen: AsyncGenerator<unknown, unknown>): Promise<BodyOutcome> {
  try {
    const step = await gen.next();
    if (step.done === true) return fromReturn(step.value);
    const outcome = fromYield(step.value);
    // R10, as above.
    for (let n = 0, r = await gen.return(undefined); r.done !== true && n < MAX_CLOSE_STEPS; n++) {
      r = await gen.return(undefined);
    }
    return outcome;
  } catch (error) {
    return thrown(error);
  }
}
