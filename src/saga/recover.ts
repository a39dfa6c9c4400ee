// recover(): after a crash, releases what abandoned transactions still hold, in reverse dependency
// order (R12; reverse order for a chain), under the same rules (guards included). Idempotent; serialised by the journal's lock.
import { err, ResultAsync, type Err, type Result } from "neverthrow";
import { transaction } from "../engine/transaction.js";
import type { CleanupContext, Transaction } from "../engine/types.js";
import { brand } from "../internal/brand.js";
import type { JsonValue } from "../internal/json.js";
import { JournalError } from "../journal/errors.js";
import type { Journal, RecoverySession } from "../journal/journal.js";
import type { JournalIssue, JournalledTransaction } from "../journal/records.js";
import { adapterMap, type AnyResourceAdapter } from "../resources/adapter.js";
import { deferGraph, edgesOfListed, type Undo } from "./graph.js";
import { JournalWriter, type JournalWriteError } from "./journal-writer.js";
import { releaseRecorded } from "./release-recorded.js";

const abandonedBrand = brand("AbandonedTransactionError");

/**
 * How `recover` works through the abandoned transactions: each release's deadline, which ones
 * already belong to someone else (`isOwned`: committed, not released), and which to take now
 * (`select`; the rest stay journalled).
 */
export interface RecoverOptions {
  /** Deadline of each release in ms (default 60 000). */
  readonly cleanupTimeoutMs?: number;
  /**
   * Says whether someone else already owns what an abandoned transaction holds (a process killed
   * after handing its resources to a store, before its commit record was durable). Such a
   * transaction is committed, not released.
   */
  readonly isOwned?: (transaction: JournalledTransaction) => boolean | Promise<boolean>;
  /**
   * Recovers only the abandoned transactions it selects (one sandbox's, before removing it); the
   * others stay in the journal, untouched, for a later recover. Default: all of them.
   */
  readonly select?: (transaction: JournalledTransaction) => boolean;
}

/** One resource `recover` released, failed to release, or retained. */
export interface RecoveredResource {
  /** The journal transaction, and the name of the saga that began it. */
  readonly tx: string;
  readonly saga: string;
  readonly step: string;
  readonly kind: string;
  readonly description: JsonValue;
}

/** What `recover` did: transactions seen, resources released, failed and retained, lines it could not use. */
export interface RecoveryReport {
  /** Transactions that needed recovery (of those `select` chose). */
  readonly transactions: number;
  /** Transactions whose resources `isOwned` said belong to someone else: committed, not released. */
  readonly owned: number;
  readonly released: readonly RecoveredResource[];
  readonly failed: readonly (RecoveredResource & { readonly error: unknown })[];
  /** Skipped by a guard after a failure: still journalled, retried by the next recover. */
  readonly retained: readonly RecoveredResource[];
  /** Lines that were not used (torn, corrupt, newer format): reported, never fatal. */
  readonly issues: readonly JournalIssue[];
  /**
   * Records that could not be written after what they record (a release, a retention, the end of
   * an unwind, a commit to the owner): never fatal. The journal still holds the earlier records,
   * so the next recover repeats the work (releases are idempotent).
   */
  readonly journalFailures: readonly JournalWriteError[];
}

/** The cause a recovery unwind runs under: the transaction was abandoned by a dead process. */
export class AbandonedTransactionError extends Error {
  override readonly name = "AbandonedTransactionError";
  readonly code = "abandoned-transaction";
  constructor(readonly tx: string) {
    super(`transaction ${tx} was abandoned by a process that stopped before it finished`);
    abandonedBrand.mark(this);
  }
}

/** Whether `value` is an AbandonedTransactionError, also across copies of this module. */
export function isAbandonedTransactionError(value: unknown): value is AbandonedTransactionError {
  return abandonedBrand.is(value);
}

/** @deprecated Renamed to {@link AbandonedTransactionError} (every error class ends in `Error`). */
export const AbandonedTransaction = AbandonedTransactionError;
/** @deprecated Renamed to {@link AbandonedTransactionError}. */
export type AbandonedTransaction = AbandonedTransactionError;

/**
 * Releases what the abandoned transactions of `journal` still hold (each under the rules, guards
 * included), or commits them to their owner when `isOwned` says so. Fails only when the journal
 * cannot be opened or read; a record it cannot write is reported in `journalFailures`.
 */
export function recover(
  journal: Journal,
  adapters: readonly AnyResourceAdapter[] | ReadonlyMap<string, AnyResourceAdapter>,
  options: RecoverOptions = {},
): ResultAsync<RecoveryReport, JournalError> {
  const byKind = adapterMap(adapters);
  const run = async (): Promise<RecoveryReport> => {
    const session = await journal.openRecovery();
    try {
      const chosen = session.transactions.filter((t) => options.select?.(t) ?? true);
      const report = emptyReport(session, chosen.length);
      for (const t of chosen) await recoverOne(journal, t, byKind, options, report);
      return report;
    } finally {
      await session.close();
    }
  };
  return ResultAsync.fromPromise(run(), (e) =>
    e instanceof JournalError
      ? e
      : new JournalError("io", `recovery failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }),
  );
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer X)[] ? X[] : T[K] };

function emptyReport(session: RecoverySession, transactions: number): Mutable<RecoveryReport> {
  return {
    transactions,
    owned: 0,
    released: [],
    failed: [],
    retained: [],
    issues: [...session.issues],
    journalFailures: [],
  };
}

/** Commits one abandoned transaction to its owner, or releases what it holds under the rules. */
async function recoverOne(
  journal: Journal,
  t: JournalledTransaction,
  byKind: ReadonlyMap<string, AnyResourceAdapter>,
  options: RecoverOptions,
  report: Mutable<RecoveryReport>,
): Promise<void> {
  // Its failed writes go straight into the report (a release settling after its deadline too).
  const writer = new JournalWriter(journal, t.tx, report.journalFailures);
  if (options.isOwned !== undefined && (await options.isOwned(t))) {
    report.owned++;
    await writer.commitToOwner();
  } else {
    const result = await transaction((tx) => releaseAll(tx, t, byKind, writer, report), {
      name: `recover:${t.name}`,
      ...(options.cleanupTimeoutMs === undefined ? {} : { cleanupTimeoutMs: options.cleanupTimeoutMs }),
    });
    if (result.isErr()) {
      const { cleanupFailures, retained } = result.error;
      for (const f of cleanupFailures) report.failed.push({ ...about(t, f.label), error: f.error });
      for (const k of retained) report.retained.push(about(t, k.label));
      await writer.unwound(retained, true);
    }
  }
}

/**
 * The recovery body: an errdefer per unreleased resource, each waiting for the releases of the
 * resources built on it (R12: the journal's `after`, a chain when absent), then the abandonment
 * as the cause.
 */
function releaseAll(
  tx: Transaction,
  t: JournalledTransaction,
  byKind: ReadonlyMap<string, AnyResourceAdapter>,
  writer: JournalWriter,
  report: Mutable<RecoveryReport>,
): Err<never, AbandonedTransactionError> {
  const undos = t.resources.map((r): Undo | undefined => {
    if (r.status === "released" || r.status === "handed-over") return undefined;
    const target = { adapter: byKind.get(r.kind), kind: r.kind };
    const fn = async (ctx: CleanupContext): Promise<Result<void, unknown>> => {
      const outcome = await releaseRecorded(writer, r.step, target, r.desc, ctx);
      if (outcome.isOk()) report.released.push(about(t, r.step));
      return outcome;
    };
    return { fn, options: { label: r.step, guard: r.guard, on: "error" } };
  });
  deferGraph(tx, edgesOfListed(t.resources), undos);
  return err(new AbandonedTransactionError(t.tx));
}

/** A resource of `t`, as the report names it. */
function about(t: JournalledTransaction, step: string): RecoveredResource {
  const r = t.resources.find((x) => x.step === step);
  return { tx: t.tx, saga: t.name, step, kind: r?.kind ?? "", description: r?.desc ?? null };
}
