// MemoryJournal: the journal contract without a disk, for tests and for runs that need no crash
// safety. `lines()` and `MemoryJournal.fromLines()` simulate a restart.
import { planAdoption } from "./adoption.js";
import { Ledger, type Journal, type RecoverySession } from "./journal.js";
import { JournalError } from "./errors.js";
import type { JournalIssue, JournalRecord } from "./records.js";

/**
 * The journal contract in memory: the same records, ledger, recovery lock and adoption as
 * `FileJournal`, without a disk and on any platform. For tests and for runs that need no crash
 * safety; `lines()` and `MemoryJournal.fromLines()` simulate a restart.
 */
export class MemoryJournal implements Journal {
  readonly #ledger = new Ledger();
  readonly #lines: string[] = [];
  readonly #issues: JournalIssue[] = [];
  #locked = false;
  /** How many appends asked for durability (what a FileJournal would fsync without group commit). */
  durableAppends = 0;

  /** A journal that starts from the lines a previous process wrote (none of them live here). */
  static fromLines(lines: readonly string[]): MemoryJournal {
    const journal = new MemoryJournal();
    // Read as recovery reads a dead process's file (transactions it cannot fully read untouched).
    const plan = planAdoption([{ source: "memory", text: lines.map((l) => `${l}\n`).join("") }]);
    journal.#issues.push(...plan.issues);
    for (const [tx, list] of plan.adopt) journal.#ledger.adopt(tx, list);
    journal.#lines.push(...lines);
    return journal;
  }

  /** Every line appended so far (what a file would hold before compaction). */
  lines(): readonly string[] {
    return this.#lines;
  }

  append(record: JournalRecord, durable: boolean): Promise<void> {
    if (durable) this.durableAppends++;
    this.#lines.push(JSON.stringify(record));
    this.#ledger.add(record);
    return Promise.resolve();
  }

  openRecovery(): Promise<RecoverySession> {
    if (this.#locked) return Promise.reject(new JournalError("locked", "journal is already being recovered"));
    this.#locked = true;
    const issues = this.#issues.splice(0);
    return Promise.resolve({
      transactions: this.#ledger.abandoned(),
      issues,
      close: () => {
        this.#locked = false;
        return Promise.resolve();
      },
    });
  }

  /** `close()`, for `await using journal = new ...`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
