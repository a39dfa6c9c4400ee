// recover(): after a crash, releases what abandoned transactions still hold, in reverse order,
// under the same rules (guards included). Idempotent; serialised by the journal's lock.
import { err, ResultAsync } from "neverthrow";
import { transaction } from "../engine/transaction.js";
import { adapterMap, type AnyResourceAdapter } from "../resources/adapter.js";
import { releaseResource } from "../resources/release.js";
import { JournalError } from "../journal/errors.js";
import type { Journal } from "../journal/journal.js";
import { JOURNAL_FORMAT_VERSION, type JournalIssue, type JournalledTransaction } from "../journal/records.js";
import { brand } from "../internal/brand.js";

const abandonedBrand = brand("AbandonedTransactionError");
import type { JsonValue } from "../resources/adapter.js";

export interface RecoverOptions {
  /** Deadline of each release in ms (default 60 000). */
  readonly cleanupTimeoutMs?: number;
  /**
   * Says whether someone else already owns what an abandoned transaction holds (a process killed
   * after handing its resources to a store, before its commit record was durable). Such a
   * transaction is committed, not released.
   */
  readonly isOwned?: (transaction: JournalledTransaction) => boolean | Promise<boolean>;
}

export interface RecoveredResource {
  /** The journal transaction, and the name of the saga that began it. */
  readonly tx: string;
  readonly saga: string;
  readonly step: string;
  readonly kind: string;
  readonly description: JsonValue;
}

export interface RecoveryReport {
  /** Transactions that needed recovery. */
  readonly transactions: number;
  /** Transactions whose resources `isOwned` said belong to someone else: committed, not released. */
  readonly owned: number;
  readonly released: readonly RecoveredResource[];
  readonly failed: readonly (RecoveredResource & { readonly error: unknown })[];
  /** Skipped by a guard after a failure: still journalled, retried by the next recover. */
  readonly retained: readonly RecoveredResource[];
  /** Lines that were not used (torn, corrupt, newer format): reported, never fatal. */
  readonly issues: readonly JournalIssue[];
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

export function recover(
  journal: Journal,
  adapters: readonly AnyResourceAdapter[] | ReadonlyMap<string, AnyResourceAdapter>,
  options: RecoverOptions = {},
): ResultAsync<RecoveryReport, JournalError> {
  const byKind = adapterMap(adapters);
  const run = async () => {
    const session = await journal.openRecovery();
    const released: RecoveredResource[] = [];
    const failed: (RecoveredResource & { error: unknown })[] = [];
    const retained: RecoveredResource[] = [];
    try {
      const v = JOURNAL_FORMAT_VERSION;
      let owned = 0;
      for (const t of session.transactions) {
        if (options.isOwned !== undefined && (await options.isOwned(t))) {
          owned++;
          await journal.append({ v, tx: t.tx, t: "commit" }, true);
          continue;
        }
        const byStep = new Map(t.resources.map((r) => [r.step, r]));
        const about = (step: string, kind: string): RecoveredResource => ({
          tx: t.tx,
          saga: t.name,
          step,
          kind,
          description: byStep.get(step)?.desc ?? null,
        });
        const kindOf = new Map(t.resources.map((r) => [r.step, r.kind]));
        const result = await transaction(
          (tx) => {
            for (const r of t.resources) {
              if (r.status === "released" || r.status === "handed-over") continue;
              const target = { adapter: byKind.get(r.kind), kind: r.kind, step: r.step, tx: t.tx, journal };
              tx.errdefer(
                async (ctx) => {
                  const outcome = await releaseResource(target, r.desc, ctx);
                  if (outcome.isOk()) released.push(about(r.step, r.kind));
                  return outcome;
                },
                { label: r.step, guard: r.guard },
              );
            }
            return err(new AbandonedTransactionError(t.tx));
          },
          options.cleanupTimeoutMs === undefined
            ? { name: `recover:${t.name}` }
            : { name: `recover:${t.name}`, cleanupTimeoutMs: options.cleanupTimeoutMs },
        );
        if (result.isOk()) continue;
        for (const f of result.error.cleanupFailures)
          failed.push({ ...about(f.label, kindOf.get(f.label) ?? ""), error: f.error });
        for (const k of result.error.retained) {
          retained.push(about(k.label, kindOf.get(k.label) ?? ""));
          await journal.append({ v, tx: t.tx, t: "retained", step: k.label }, false);
        }
        await journal.append({ v, tx: t.tx, t: "end" }, true);
      }
      return { transactions: session.transactions.length, owned, released, failed, retained, issues: session.issues };
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
