// The Journal interface the saga and `recover` write through, and the ledger both journals keep:
// the records of every transaction that is not finished yet, and which of them are live here.
import {
  foldTransaction,
  needsRecovery,
  type JournalIssue,
  type JournalRecord,
  type JournalledTransaction,
} from "./records.js";

export interface Journal {
  /**
   * Appends one record. With `durable`, resolves once it and every record before it are on
   * stable storage (an fsync, possibly shared with other records: group commit); otherwise it may
   * resolve before, and is written in order with the next durable one.
   */
  append(record: JournalRecord, durable: boolean): Promise<void>;
  /** Takes the recovery lock and loads the transactions no live process owns. */
  openRecovery(): Promise<RecoverySession>;
  /** Flushes, and removes its files when nothing is left to recover. */
  close(): Promise<void>;
}

/** What `recover` works on while it holds the lock. */
export interface RecoverySession {
  /** Abandoned transactions that still hold something. */
  readonly transactions: readonly JournalledTransaction[];
  /** Lines that could not be used: torn, corrupt, newer format. */
  readonly issues: readonly JournalIssue[];
  /** Releases the lock. */
  close(): Promise<void>;
}

/**
 * In-memory bookkeeping shared by the journals: the records of unfinished transactions (finished
 * ones, committed or fully released, are dropped: compaction) and the ones this process runs.
 */
export class Ledger {
  readonly #records = new Map<string, JournalRecord[]>();
  /** Transactions begun here whose end record has not been written. */
  readonly #live = new Set<string>();

  /** Records one written record; returns true when its transaction just finished. */
  add(record: JournalRecord): boolean {
    let list = this.#records.get(record.tx);
    if (list === undefined) {
      list = [];
      this.#records.set(record.tx, list);
      if (record.t === "begin") this.#live.add(record.tx);
    }
    list.push(record);
    // The run is over at its end record (a commit only hands resources over: the unwind of
    // on-always releases, and failures after the commit, come later).
    if (record.t === "end") this.#live.delete(record.tx);
    if (this.#live.has(record.tx) || needsRecovery(foldTransaction(record.tx, list))) return false;
    this.#records.delete(record.tx);
    return true;
  }

  /** Adds the records of a transaction found in an old file (adoption by recovery); never live. */
  adopt(tx: string, records: readonly JournalRecord[]): void {
    this.#records.set(tx, [...(this.#records.get(tx) ?? []), ...records]);
  }

  /** Whether records (of a transaction not live here) still hold something to recover. */
  static needsAdoption(tx: string, records: readonly JournalRecord[]): boolean {
    return needsRecovery(foldTransaction(tx, records));
  }

  has(tx: string): boolean {
    return this.#records.has(tx);
  }

  get size(): number {
    return this.#records.size;
  }

  /** Every record still kept, transaction by transaction (for rewriting a compacted file). */
  *records(): Iterable<JournalRecord> {
    for (const list of this.#records.values()) yield* list;
  }

  /** Transactions that need recovery and are not running here. */
  abandoned(): JournalledTransaction[] {
    const out: JournalledTransaction[] = [];
    for (const [tx, list] of this.#records) {
      if (this.#live.has(tx)) continue;
      const folded = foldTransaction(tx, list);
      if (needsRecovery(folded)) out.push(folded);
    }
    return out;
  }
}

/** Splits journal text into records, reporting torn, corrupt and newer-format lines. */
export function parseJournalText(
  text: string,
  source: string,
  checkRecord: (value: unknown) => { record: JournalRecord } | { problem: string; newer?: true; tx?: string },
): { records: JournalRecord[]; issues: JournalIssue[]; newerTx: Set<string>; tornAt: number | undefined } {
  const records: JournalRecord[] = [];
  const issues: JournalIssue[] = [];
  const newerTx = new Set<string>();
  let tornAt: number | undefined;
  let offset = 0;
  let line = 0;
  while (offset < text.length) {
    line++;
    const nl = text.indexOf("\n", offset);
    if (nl === -1) {
      // A last line without its newline was cut short by a crash: it was never acknowledged.
      issues.push({ type: "torn", source, line, message: `torn last line (${text.length - offset} bytes) ignored` });
      tornAt = offset;
      break;
    }
    const raw = text.slice(offset, nl);
    offset = nl + 1;
    if (raw.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      issues.push({ type: "corrupt", source, line, message: "not valid JSON" });
      continue;
    }
    const checked = checkRecord(parsed);
    if ("record" in checked) {
      records.push(checked.record);
      continue;
    }
    if (checked.newer === true && checked.tx !== undefined) newerTx.add(checked.tx);
    issues.push({
      type: checked.newer === true ? "newer-version" : "corrupt",
      source,
      line,
      message: checked.problem,
      ...(checked.tx === undefined ? {} : { tx: checked.tx }),
    });
  }
  return { records, issues, newerTx, tornAt };
}
