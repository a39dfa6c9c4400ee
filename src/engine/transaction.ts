// transaction(): runs the body, closes it (R9), hands over to the unwind and builds the Result (R7).
import { err, errAsync, ok, ResultAsync, type Result } from "neverthrow";
import { fromReturn, runBody, thrown, type BodyOutcome } from "./body.js";
import { checkErrorValue, CleanupScope, UnwindState } from "./cleanup-context.js";
import { checkTimeout, CleanupEntry, makeEntry } from "./cleanup.js";
import { isResult, isThenable, settledFromValue, settleWithin } from "./deadline.js";
import { disposerOf } from "./dispose.js";
import { TransactionClosedError, TransactionError, type CleanupFailure } from "./errors.js";
import { EventSink } from "./events.js";
import { unwindGraph } from "./graph-unwind.js";
import { unwind } from "./unwind.js";
import type {
  AcquireOptions,
  BodyErr,
  BodyOk,
  CheckBody,
  Cleanup,
  CleanupContext,
  CleanupHandle,
  CleanupOptions,
  CleanupReturn,
  Transaction,
  TransactionOptions,
} from "./types.js";

/** containerd's DeferContext timeout. */
export const DEFAULT_CLEANUP_TIMEOUT_MS = 60_000;

// tx.signal when the caller gave none: a signal that never aborts.
const neverAborted = new AbortController().signal;
let lastTransactionId = 0;

/**
 * Runs `body` with a transaction handle, then unwinds its cleanups under rules R1-R10 and resolves
 * to `Ok(value)` or `Err(TransactionError)` carrying the primary cause and every cleanup failure.
 */
// One signature, not one per body form: a body that returns something else then gets one error,
// the `BodyTypeError` that says what to write, instead of every overload's complaint.
export function transaction<R>(
  body: (tx: Transaction) => R & CheckBody<R>,
  options?: TransactionOptions,
): ResultAsync<BodyOk<R>, TransactionError<BodyErr<R>>>;
export function transaction(
  body: (tx: Transaction) => unknown,
  options?: TransactionOptions,
): ResultAsync<unknown, TransactionError> {
  if (typeof body !== "function") {
    throw new TypeError(`transaction: body must be a function, got ${body === null ? "null" : typeof body}`);
  }
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`transaction: options must be an object`);
  }
  const timeoutMs =
    checkTimeout("transaction", "options.cleanupTimeoutMs", options?.cleanupTimeoutMs) ?? DEFAULT_CLEANUP_TIMEOUT_MS;
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`transaction: options.signal must be an AbortSignal`);
  }
  const onEvent = options?.onEvent;
  if (onEvent !== undefined && typeof onEvent !== "function") {
    throw new TypeError(`transaction: options.onEvent must be a function`);
  }
  const name = options?.name ?? "transaction";
  if (typeof name !== "string") throw new TypeError(`transaction: options.name must be a string`);
  const concurrency = checkConcurrency("transaction: options.concurrency", options?.concurrency);
  const limits = { timeoutMs, concurrency };
  return new ResultAsync(run(body, signal ?? neverAborted, limits, name, EventSink.open(onEvent)));
}

/** A bound on how many run at once: a positive integer, or undefined for none. */
export function checkConcurrency(where: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`${where} must be a positive integer, got ${typeof value === "number" ? value : typeof value}`);
  }
  return value;
}

/** R12: a cleanup names only cleanups registered before it in the same transaction. */
function checkEarlier(entries: readonly CleanupEntry[], entry: CleanupEntry): void {
  for (const d of entry.dependsOn ?? []) {
    if (!entries.includes(d)) {
      throw new TypeError(
        `cleanup "${entry.label}": options.dependsOn names "${d.label}", which is not an earlier cleanup of this transaction`,
      );
    }
  }
}

async function run(
  body: (tx: Transaction) => unknown,
  signal: AbortSignal,
  { timeoutMs, concurrency }: { readonly timeoutMs: number; readonly concurrency: number | undefined },
  name: string,
  sink: EventSink | undefined,
): Promise<Result<unknown, TransactionError>> {
  const transactionId = ++lastTransactionId;
  const startedAt = sink === undefined ? 0 : performance.now();
  sink?.emit({ type: "transaction:started", transactionId, name });

  const tx = new TransactionHandle(signal, timeoutMs, transactionId, sink);
  let outcome: BodyOutcome;
  if (signal.aborted) {
    outcome = thrown(signal.reason);
  } else {
    const started = runBody(body, tx);
    if (started instanceof Promise) {
      outcome = await started;
    } else if ("pending" in started) {
      try {
        outcome = fromReturn(await started.pending);
      } catch (error) {
        outcome = thrown(error);
      }
    } else {
      outcome = started;
    }
  }
  tx.closed = true;

  // The success path with nothing to run (only errdefers, nothing noted, nobody listening): every
  // turn would be a silent R2 skip, so the turns are taken without the unwind's state and loop.
  if (outcome.ok && tx.runsOnSuccess === 0 && tx.noted === undefined && sink === undefined) {
    for (const entry of tx.entries) if (entry.state === "pending") entry.state = "ran";
    return ok(outcome.value);
  }
  const state = unwindState(outcome, tx.noted);
  if (tx.entries.length > 0) {
    const u = { entries: tx.entries, state, defaultTimeoutMs: timeoutMs, transactionId, sink, concurrency };
    const pending = tx.graph ? unwindGraph(u) : unwind(u);
    if (pending !== undefined) await pending;
  }
  tx.finalState = state;

  sink?.emit({
    type: "transaction:finished",
    transactionId,
    name,
    ok: !state.failed,
    durationMs: performance.now() - startedAt,
    cleanupFailures: state.failures,
    retained: state.retained,
  });
  return resultOf(outcome, state);
}

/** R5: a body that failed has no value; a cleared retErr returns Go's zero value. R7: the Err. */
function resultOf(outcome: BodyOutcome, state: UnwindState): Result<unknown, TransactionError> {
  if (!state.failed) return ok(outcome.ok ? outcome.value : undefined);
  return err(
    new TransactionError({
      cause: state.retErr,
      origin: state.origin ?? "throw",
      bodyError: !outcome.ok && outcome.origin === "err" ? outcome.error : undefined,
      cleanupFailures: state.failures,
      retained: state.retained,
    }),
  );
}

/** retErr as the body left it; what the body noted failed first, before any cleanup (R4). */
function unwindState(outcome: BodyOutcome, noted: readonly CleanupFailure[] | undefined): UnwindState {
  const state = outcome.ok
    ? new UnwindState(false, undefined, undefined)
    : new UnwindState(true, outcome.error, outcome.origin);
  if (noted !== undefined) for (const f of noted) state.recordFailure(f.label, f.error);
  return state;
}

class TransactionHandle implements Transaction {
  closed = false;
  readonly entries: CleanupEntry[] = [];
  /** Set after the unwind: what a late release (R9) sees as retErr. */
  finalState: UnwindState | undefined;
  /** The failures the body noted (R4), made on first use. */
  noted: CleanupFailure[] | undefined;
  /** How many registered cleanups are not errdefers (a success unwind runs only these). */
  runsOnSuccess = 0;
  /** Some cleanup names `dependsOn`: the unwind is a graph (R12). */
  graph = false;
  #registrations = 0;

  constructor(
    readonly signal: AbortSignal,
    readonly defaultTimeoutMs: number,
    readonly transactionId: number,
    readonly sink: EventSink | undefined,
  ) {}

  defer(fn: Cleanup, opts?: CleanupOptions): CleanupHandle {
    // As in errdefer: the common call without options makes its entry here.
    if (opts === undefined && typeof fn === "function") {
      return this.push(new CleanupEntry(fn, undefined, ++this.#registrations, "always", false, undefined));
    }
    return this.push(makeEntry("tx.defer", fn, opts, "always", ++this.#registrations));
  }

  errdefer(fn: Cleanup, opts?: Omit<CleanupOptions, "on">): CleanupHandle {
    // Without options (the common call) the entry is made here: through makeEntry, which every
    // kind of registration shares, it cost about 0.3x of the hand-written op per 10 (issue 14).
    if (opts === undefined && typeof fn === "function") {
      return this.push(new CleanupEntry(fn, undefined, ++this.#registrations, "error", false, undefined));
    }
    const on = (opts as CleanupOptions | undefined)?.on;
    if (on !== undefined && on !== "error") {
      throw new TypeError(
        `tx.errdefer: options.on cannot be ${JSON.stringify(on)} (errdefer runs on error; use tx.defer)`,
      );
    }
    return this.push(makeEntry("tx.errdefer", fn, opts, "error", ++this.#registrations));
  }

  noteCleanupFailure(error: unknown, label?: string): void {
    if (label !== undefined && typeof label !== "string") {
      throw new TypeError(`tx.noteCleanupFailure: label must be a string, got ${typeof label}`);
    }
    checkErrorValue("tx.noteCleanupFailure", error, "note the value the cleanup failed with");
    const l = label ?? "body";
    if (this.closed) throw new TransactionClosedError(l, "note");
    (this.noted ??= []).push({ label: l, error });
    const { sink, transactionId } = this;
    sink?.emit({ type: "cleanup:failed", transactionId, label: l, durationMs: 0, error });
  }

  use<T>(resource: T, opts?: CleanupOptions): T {
    if (resource === null || resource === undefined) return resource;
    this.push(makeEntry("tx.use", disposerOf(resource), opts, "always", ++this.#registrations));
    return resource;
  }

  acquire(
    acquireFn: (signal: AbortSignal) => unknown,
    releaseFn: (resource: unknown, ctx: CleanupContext) => CleanupReturn,
    opts?: AcquireOptions,
  ): ResultAsync<unknown, unknown> {
    if (typeof acquireFn !== "function") throw new TypeError(`tx.acquire: acquireFn must be a function`);
    if (typeof releaseFn !== "function") throw new TypeError(`tx.acquire: releaseFn must be a function`);
    const registerFirst = opts?.registerFirst ?? false;
    if (typeof registerFirst !== "boolean") {
      throw new TypeError(`tx.acquire: options.registerFirst must be a boolean, got ${typeof registerFirst}`);
    }
    const acquisition = new Acquisition(this, releaseFn, registerFirst);
    const entry = makeEntry(
      "tx.acquire",
      (ctx: CleanupContext) => acquisition.release(ctx),
      opts,
      "always",
      ++this.#registrations,
    );
    acquisition.entry = entry;
    if (this.closed) return errAsync(new TransactionClosedError(entry.label, "register"));
    if (registerFirst) this.push(entry);

    let produced: unknown;
    try {
      produced = acquireFn(this.signal);
    } catch (error) {
      return errAsync(error);
    }
    if (!isThenable(produced)) return new ResultAsync(Promise.resolve(acquisition.settle(produced)));
    const settled =
      produced instanceof Promise
        ? (produced as Promise<unknown>).then((value) => acquisition.settle(value), toErr)
        : new Promise<Result<unknown, unknown>>((resolve) => {
            // A non-native thenable: adopt it through its own then().
            void produced.then(
              (value) => resolve(acquisition.settle(value)),
              (error: unknown) => resolve(err(error)),
            );
          });
    if (registerFirst) acquisition.inFlight = settled;
    return new ResultAsync(settled);
  }

  push(entry: CleanupEntry): CleanupEntry {
    if (this.closed) throw new TransactionClosedError(entry.label, "register");
    if (entry.dependsOn !== undefined) {
      checkEarlier(this.entries, entry);
      this.graph = true;
    }
    if (entry.on !== "error") this.runsOnSuccess++;
    this.entries.push(entry);
    this.sink?.emit({
      type: "cleanup:registered",
      transactionId: this.transactionId,
      label: entry.label,
      on: entry.on,
      guard: entry.guard,
    });
    return entry;
  }

  // R9: a resource that arrives after the body ended is released at once, outside the unwind.
  // Its failure cannot reach the Result any more, so it is published as an event.
  releaseLate(entry: CleanupEntry): void {
    entry.state = "ran";
    const final = this.finalState;
    const state = final === undefined ? new UnwindState(false, undefined, undefined) : snapshot(final);
    const scope = new CleanupScope(state, entry.label);
    const { sink, transactionId } = this;
    const { label } = entry;
    sink?.emit({ type: "cleanup:started", transactionId, label });
    const startedAt = performance.now();
    const report = (settled: { readonly error: unknown } | undefined): void => {
      if (sink === undefined) return;
      const durationMs = performance.now() - startedAt;
      sink.emit(
        settled === undefined
          ? { type: "cleanup:succeeded", transactionId, label, durationMs }
          : { type: "cleanup:failed", transactionId, label, durationMs, error: settled.error },
      );
    };
    let returned: unknown;
    try {
      returned = entry.fn(scope);
    } catch (error) {
      report({ error });
      return;
    }
    if (isThenable(returned)) {
      void settleWithin(returned, entry.timeoutMs ?? this.defaultTimeoutMs, label, scope.deadline).then(report);
    } else {
      report(settledFromValue(returned));
    }
  }
}

const toErr = (error: unknown): Result<unknown, unknown> => err(error);

/** One `tx.acquire` call: the resource once it arrives, and the release registered for it. */
class Acquisition {
  resource: unknown;
  entry!: CleanupEntry;
  /** registerFirst: the acquisition in flight, which a release whose turn comes early waits for. */
  inFlight: Promise<unknown> | undefined;
  invoked = false;

  constructor(
    readonly tx: TransactionHandle,
    readonly releaseFn: (resource: unknown, ctx: CleanupContext) => CleanupReturn,
    readonly registerFirst: boolean,
  ) {}

  release(ctx: CleanupContext): CleanupReturn {
    this.invoked = true;
    const inFlight = this.inFlight;
    return inFlight === undefined
      ? this.releaseFn(this.resource, ctx)
      : inFlight.then(() => this.releaseFn(this.resource, ctx));
  }

  settle(value: unknown): Result<unknown, unknown> {
    if (isResult(value)) {
      const r = value as { isErr(): boolean; error?: unknown; value?: unknown };
      if (r.isErr()) return err(r.error);
      value = r.value;
    }
    this.resource = value;
    this.inFlight = undefined;
    const { entry, tx } = this;
    if (this.registerFirst) {
      // Its turn has not come (or it was dismissed): the unwind or the owner passes it on.
      if (entry.state !== "ran") return ok(value);
      // Its release is waiting for this very value, or R3 retained it: nothing to do here.
      if (this.invoked || entry.retained) return err(new TransactionClosedError(entry.label, "acquire"));
    } else if (!tx.closed) {
      tx.push(entry);
      return ok(value);
    }
    // R9: the body has ended and nothing else will release it.
    tx.releaseLate(entry);
    return err(new TransactionClosedError(entry.label, "acquire"));
  }
}

function snapshot(state: UnwindState): UnwindState {
  return new UnwindState(state.failed, state.retErr, state.origin);
}
