// The Journal interface the saga and `recover` write through, and the ledger both journals keep:
// the records of every transaction that is not finished yet, and which of them are live here.
import {
  foldTransaction,
  needsRecovery,
  type JournalIssue,
  type JournalRecord,
  type JournalledTransaction,
} from "./records.js";

/**
 * Where sagas write their resource steps and `recover` reads them back: `FileJournal` (durable)
 * or `MemoryJournal` (tests, no crash safety). Implement it only to store the records elsewhere;
 * the records' order and durability rules are in docs/journal.md.
 */
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
 *
 * The records follow the file (a FileJournal adds a record once it is written), but a
 * transaction's liveness follows the run: it is live from its begin (`start`, whether or not the
 * begin record is ever written) until its end settles (`finish`, written or not). A running saga is
 * therefore never recovered under it, and what a run left behind is recoverable in process as soon
 * as the run is over.
 */
export class Ledger {
  readonly #records = new Map<string, JournalRecord[]>();
  /** Transactions begun here whose end has not settled. */
  readonly #live = new Set<string>();

  /** A run begins `tx`: live from now on, whatever becomes of its records. */
  start(tx: string): void {
    this.#live.add(tx);
    if (!this.#records.has(tx)) this.#records.set(tx, []);
  }

  /** `tx`'s run is over (its end record written, or not): dropped unless it holds something. */
  finish(tx: string): void {
    this.#live.delete(tx);
    const list = this.#records.get(tx);
    if (list !== undefined && !needsRecovery(foldTransaction(tx, list))) this.#records.delete(tx);
  }

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

  /** The records of the transactions `abandoned()` lists (for another journal to take them over). */
  abandonedRecords(): Map<string, JournalRecord[]> {
    const out = new Map<string, JournalRecord[]>();
    for (const [tx, list] of this.#records) {
      if (!this.#live.has(tx) && needsRecovery(foldTransaction(tx, list))) out.set(tx, [...list]);
    }
    return out;
  }

  /** Forgets transactions that are not live (taken over by another journal). */
  drop(txs: Iterable<string>): void {
    for (const tx of txs) if (!this.#live.has(tx)) this.#records.delete(tx);
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

/** What one journal file (or MemoryJournal's lines) holds, as recovery reads it. */
export interface ParsedJournal {
  readonly records: JournalRecord[];
  readonly issues: JournalIssue[];
  /**
   * Transactions with a line this version cannot use (a newer format, or a complete line that is
   * corrupt but names them): recovery leaves them untouched, in every file, rather than guess.
   */
  readonly held: Set<string>;
  /** A newer-format line names no transaction: it may concern any of them, so the file is left whole. */
  readonly opaque: boolean;
  readonly tornAt: number | undefined;
}

/** The transactions a raw line names: its `tx`, or for a line that is not JSON every `"tx":"..."` in it. */
export function txsOfLine(raw: string): string[] {
  try {
    const value: unknown = JSON.parse(raw);
    const tx = typeof value === "object" && value !== null ? (value as { tx?: unknown }).tx : undefined;
    return typeof tx === "string" && tx !== "" ? [tx] : [];
  } catch {
    return [...raw.matchAll(/"tx"\s*:\s*"((?:[^"\\]|\\.)+)"/g)].map((m) => m[1]!);
  }
}

/**
 * Splits journal text into records, reporting torn, corrupt and newer-format lines. A torn last
 * line was never acknowledged and names nothing; a complete line that cannot be used holds back
 * every transaction it names (see ParsedJournal.held).
 */
export function parseJournalText(
  text: string,
  source: string,
  checkRecord: (value: unknown) => { record: JournalRecord } | { problem: string; newer?: true; tx?: string },
): ParsedJournal {
  const out = { records: [] as JournalRecord[], issues: [] as JournalIssue[], held: new Set<string>(), opaque: false };
  let tornAt: number | undefined;
  let offset = 0;
  let line = 0;
  while (offset < text.length) {
    line++;
    const nl = text.indexOf("\n", offset);
    if (nl === -1) {
      // A last line without its newline was cut short by a crash: it was never acknowledged.
      out.issues.push({
        type: "torn",
        source,
        line,
        message: `torn last line (${text.length - offset} bytes) ignored`,
      });
      tornAt = offset;
      break;
    }
    const raw = text.slice(offset, nl);
    offset = nl + 1;
    if (raw.trim() !== "") parseLine(raw, { source, line }, checkRecord, out);
  }
  return { ...out, tornAt };
}

function parseLine(
  raw: string,
  where: { source: string; line: number },
  checkRecord: (value: unknown) => { record: JournalRecord } | { problem: string; newer?: true; tx?: string },
  out: { records: JournalRecord[]; issues: JournalIssue[]; held: Set<string>; opaque: boolean },
): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    const txs = txsOfLine(raw);
    for (const tx of txs) out.held.add(tx);
    const named = txs.length === 0 ? "" : ` (names ${txs.join(", ")}: left untouched)`;
    out.issues.push({ type: "corrupt", ...where, message: `not valid JSON${named}`, ...txField(txs[0]) });
    return;
  }
  const checked = checkRecord(parsed);
  if ("record" in checked) {
    out.records.push(checked.record);
    return;
  }
  if (checked.tx !== undefined) out.held.add(checked.tx);
  else if (checked.newer === true) out.opaque = true;
  out.issues.push({
    type: checked.newer === true ? "newer-version" : "corrupt",
    ...where,
    message: checked.problem,
    ...txField(checked.tx),
  });
}

const txField = (tx: string | undefined): { tx?: string } => (tx === undefined ? {} : { tx });
