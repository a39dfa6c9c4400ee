// The journal protocol of one run (a saga run, a releaseHeld, or recover's unwind of one abandoned
// transaction): the only module that appends to a Journal. It builds every record, decides which
// are fsynced, and decides in one place what a failed write means.
import { err, type Result } from "neverthrow";
import { describeError, TransactionError, type CleanupFailure, type Retained } from "../engine/errors.js";
import { brand } from "../internal/brand.js";
import type { JsonValue } from "../internal/json.js";
import type { Journal } from "../journal/journal.js";
import { formatVersionOf, type JournalRecord } from "../journal/records.js";
import { unlessPrevious } from "./graph.js";

const journalWriteBrand = brand("JournalWriteError");

/** The label a failed record write carries among a TransactionError's `cleanupFailures`. */
export const JOURNAL_FAILURE_LABEL = "journal";

/**
 * A record that could not be written after what it records had already happened. It changed
 * nothing in the run: the journal still holds the earlier record of the resource (its intent, or
 * its acquisition), so `recover` releases it again (releases are idempotent).
 */
export class JournalWriteError extends Error {
  override readonly name = "JournalWriteError";
  readonly code = "journal-write-failed";
  /** The record missing from the journal. */
  readonly record: JournalRecord;

  constructor(record: JournalRecord, cause: unknown) {
    const what = "step" in record ? `"${record.t}" record of step "${record.step}"` : `"${record.t}" record`;
    super(`could not journal the ${what} of transaction ${record.tx}: ${describeError(cause)}`, { cause });
    this.record = record;
    journalWriteBrand.mark(this);
  }
}

/** Whether `value` is a JournalWriteError, also across copies of this module. */
export function isJournalWriteError(value: unknown): value is JournalWriteError {
  return journalWriteBrand.is(value);
}

/** A record as the writer builds it; `v` (its kind's format version) is added as it is appended. */
type Unversioned = JournalRecord extends infer R ? (R extends JournalRecord ? Omit<R, "v"> : never) : never;

/** What an intent names: a resource a step will acquire (saga) or a held one adopted (releaseHeld). */
export interface IntendedResource {
  readonly step: string;
  readonly kind: string;
  readonly guard: boolean;
  readonly description: JsonValue;
  /** The resources (by step) this one was built on (R12); absent: the one named just before it. */
  readonly after?: readonly string[];
}

/**
 * The journal writer of one run: one instance per journal transaction id; without a journal every
 * method does nothing. Two kinds of record, one rule each:
 *
 * - A **promise** is written before the action it announces, so that a crash after the action
 *   finds it: the run's `begin`, a resource's `intent` (the journal must name what may exist
 *   before it exists), releaseHeld's `adopt` (it must own what it is about to release), the `commit` (the journal must stop owning the resources before the caller
 *   is told it owns them). If it cannot be written, the action does not happen: the method
 *   rejects with the journal's own error and the caller fails the step or the run (the saga rolls
 *   back what it holds; releaseHeld releases nothing and the caller still owns everything).
 * - A **fact** records what already happened: it cannot be undone by failing something. A fact
 *   that cannot be written never rejects, never turns an Ok into an Err (after a commit that would
 *   orphan what the caller was handed) and never skips or repeats a step. It is kept as a
 *   JournalWriteError in `failures`, and reported on the run's outcome: among the
 *   `cleanupFailures` of a TransactionError (label `"journal"`, after the cleanups' own
 *   failures), or in the `journalFailures` of an Ok value. Losing a fact never loses a resource:
 *   the journal still holds the resource's earlier record (its intent names what may exist), so
 *   recovery releases it again, and releases are idempotent.
 *
 * | record            | when it is written                                   | fsynced?                               | a failed write                                  |
 * | ----------------- | ---------------------------------------------------- | -------------------------------------- | ----------------------------------------------- |
 * | `begin`           | saga / releaseHeld: before anything else             | no: rides on the next fsync           | promise: the run fails, nothing acquired/released |
 * | `intent`          | saga: before a resource step acquires                | yes                                    | promise: the step is not run and fails          |
 * | `adopt`           | releaseHeld: every held resource in one record, before releasing | yes                        | promise: nothing released, the caller keeps all |
 * | `acquired`        | after a step acquired and described its resource     | no: the intent already names it        | fact                                            |
 * | `released`        | after a release, or an acquisition that failed (holds nothing) | no: losing it means releasing again | fact                                  |
 * | `release-failed`  | after a release failed                               | after a commit only (see below)        | fact                                            |
 * | `retained`        | after the unwind, per guarded release it skipped     | after a commit only (see below)        | fact                                            |
 * | `commit`          | saga: after the on-always cleanups, before handing over (R11) | yes                           | promise: the run fails and rolls back           |
 * | `commit` (owner)  | recover: `isOwned` says someone owns the resources   | yes                                    | fact: still counted as owned; asked again next time |
 * | `end`             | after the unwind (recover: after each transaction)   | after a failed run (it carries the unwind's records to disk); not after a success | fact |
 *
 * Why `release-failed` and `retained` are fsynced after a commit (and only then): under R11
 * nothing of a saga can fail after a commit that was written, but a commit whose write failed may
 * have reached the file all the same, and the run is then rolled back. Its commit says the caller
 * owns the resources; these records are what takes one back for recovery. Losing one there would
 * leave a resource nobody releases, and a record that rides on a later fsync can fail without its
 * own append ever hearing of it (FileJournal's group commit acknowledges it at once). Before a
 * commit, the intent or acquisition already keeps the resource recoverable.
 *
 * Every record is written with the format version of its kind (`formatVersionOf`): 1, and 2 for
 * `adopt`, so that an errdefer that reads only version 1 leaves an adoption untouched.
 */
export class JournalWriter {
  readonly tx: string;
  readonly #journal: Journal | undefined;
  readonly #failures: JournalWriteError[];
  #committed = false;
  /** The step of the last intent written: what an intent without `after` depends on. */
  #lastIntent: string | undefined;

  /** `failures`: where failed facts go (recover shares one list among its transactions' writers). */
  constructor(journal: Journal | undefined, tx: string, failures: JournalWriteError[] = []) {
    this.tx = tx;
    this.#journal = journal;
    this.#failures = failures;
  }

  /** Facts that could not be written, in order. The same array for the whole run: late writes join it. */
  get failures(): readonly JournalWriteError[] {
    return this.#failures;
  }

  /** Promise: the run starts (its name is what recovery reports). */
  begin(name: string): Promise<void> {
    return this.#promise({ tx: this.tx, t: "begin", name, at: Date.now() }, false);
  }

  /**
   * Promise: `resource` is about to be acquired; durable before the acquisition starts. `after`:
   * the steps of the intents it was built on (R12), written only when they are not just the
   * previous intent (a chain's records are as before).
   */
  intent(resource: IntendedResource, after?: readonly string[]): Promise<void> {
    // undefined: the previous intent (a chain), written as nothing.
    const written = after === undefined ? undefined : unlessPrevious(after, this.#lastIntent);
    this.#lastIntent = resource.step;
    return this.#promise(this.#intentRecord(resource, written), true);
  }

  /**
   * Promise: begin, then one `adopt` record naming every resource to release, fsynced. One record,
   * so that a crash leaves all of them adopted or none (never the first few, to be released out
   * of order while the others stay with a caller that is gone). Nothing to adopt: the begin alone.
   */
  async adopt(name: string, resources: readonly IntendedResource[]): Promise<void> {
    await this.begin(name);
    if (resources.length === 0) return;
    const adopted = resources.map((r) => ({
      step: r.step,
      kind: r.kind,
      guard: r.guard,
      desc: r.description,
      ...(r.after === undefined ? {} : { after: r.after }),
    }));
    await this.#promise({ tx: this.tx, t: "adopt", resources: adopted }, true);
  }

  /** Promise: the steps in `held` pass to the caller. */
  commit(held: readonly string[]): Promise<void> {
    // Counted as committed even if the write fails: it may have reached the file all the same.
    this.#committed = true;
    return this.#promise({ tx: this.tx, t: "commit", held }, true);
  }

  /** Fact (recover): someone else already owns what this abandoned transaction holds. */
  commitToOwner(): Promise<void> {
    return this.#fact({ tx: this.tx, t: "commit" }, true);
  }

  /** Fact: a step acquired its resource; `desc` is its full description. */
  acquired(step: string, desc: JsonValue): Promise<void> {
    return this.#fact({ tx: this.tx, t: "acquired", step, desc }, false);
  }

  /** Fact: the step's resource is gone (released, or never made). */
  released(step: string): Promise<void> {
    return this.#fact({ tx: this.tx, t: "released", step }, false);
  }

  /** Fact: the step's release failed with `error`; the resource is still to recover. */
  releaseFailed(step: string, error: unknown): Promise<void> {
    const record = { tx: this.tx, t: "release-failed" as const, step };
    return this.#fact({ ...record, error: describeError(error) }, this.#committed);
  }

  /** Fact: a guard skipped the step's release; the resource is still to recover. */
  retained(step: string): Promise<void> {
    return this.#fact({ tx: this.tx, t: "retained", step }, this.#committed);
  }

  /** Fact: the unwind is over. */
  end(failed: boolean): Promise<void> {
    return this.#fact({ tx: this.tx, t: "end" }, failed);
  }

  /** Facts: what the unwind retained, then its end. The same for a saga, releaseHeld and recover. */
  async unwound(retained: readonly Retained[], failed: boolean): Promise<void> {
    for (const kept of retained) await this.retained(kept.label);
    await this.end(failed);
  }

  /**
   * After a run's transaction: writes what it retained and its end, and returns its result with
   * the failed writes reported. An Ok stays Ok (its value holds `failures` already); an Err gains
   * them as cleanup failures labelled "journal".
   */
  async finish<T, E>(result: Result<T, TransactionError<E>>): Promise<Result<T, TransactionError<E>>> {
    await this.unwound(result.isErr() ? result.error.retained : [], result.isErr());
    if (result.isOk() || this.#failures.length === 0) return result;
    return err(withJournalFailures(result.error, this.#failures));
  }

  #intentRecord(r: IntendedResource, after: readonly string[] | undefined): Unversioned {
    return {
      tx: this.tx,
      t: "intent",
      step: r.step,
      kind: r.kind,
      guard: r.guard,
      desc: r.description,
      ...(after === undefined ? {} : { after }),
    };
  }

  async #promise(unversioned: Unversioned, durable: boolean): Promise<void> {
    if (this.#journal !== undefined) await this.#journal.append(versioned(unversioned), durable);
  }

  async #fact(unversioned: Unversioned, durable: boolean): Promise<void> {
    if (this.#journal === undefined) return;
    const record = versioned(unversioned);
    try {
      await this.#journal.append(record, durable);
    } catch (error) {
      this.#failures.push(new JournalWriteError(record, error));
    }
  }
}

/** The record with its format version, first (the oldest version that has its kind). */
function versioned(record: Unversioned): JournalRecord {
  return { v: formatVersionOf(record.t), ...record };
}

/** `error` with `failures` added to its cleanup failures (labelled "journal"); the cause stays on top. */
export function withJournalFailures<E>(
  error: TransactionError<E>,
  failures: readonly JournalWriteError[],
): TransactionError<E> {
  if (failures.length === 0) return error;
  const journal: CleanupFailure[] = failures.map((f) => ({ label: JOURNAL_FAILURE_LABEL, error: f }));
  return new TransactionError<E>({
    cause: error.cause,
    origin: error.origin,
    bodyError: error.bodyError,
    cleanupFailures: [...error.cleanupFailures, ...journal],
    retained: error.retained,
  });
}
