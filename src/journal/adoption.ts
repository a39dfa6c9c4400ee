// What recovery may take from journal files no live process writes any more, decided over all of
// them at once before anything is adopted: a transaction with a line this version cannot use (a
// newer format, or a complete line that is corrupt but names it) is left untouched in every file,
// and a file with a newer-format line that names no transaction is left whole.
import { Ledger, parseJournalText, txsOfLine } from "./journal.js";
import { checkRecord, type JournalIssue, type JournalRecord } from "./records.js";

/** A file of a dead writer, as read. */
export interface DeadFile {
  readonly source: string;
  readonly text: string;
}

export interface AdoptionPlan {
  readonly issues: JournalIssue[];
  /** The transactions to adopt (they still hold something), their records in file order. */
  readonly adopt: Map<string, JournalRecord[]>;
  /** Every transaction left untouched. */
  readonly held: ReadonlySet<string>;
  /** Files with nothing left in them once the adopted copies are durable: to delete. */
  readonly remove: string[];
  /** Files that keep only the lines of untouched transactions: to rewrite with `text`. */
  readonly rewrite: DeadFile[];
}

/** Plans the adoption of `files` (the ones not listed in `remove` or `rewrite` stay as they are). */
export function planAdoption(files: readonly DeadFile[]): AdoptionPlan {
  const parsed = files.map((f) => ({ ...f, ...parseJournalText(f.text, f.source, checkRecord) }));
  const held = new Set<string>();
  for (const p of parsed) {
    for (const tx of p.held) held.add(tx);
    // Left whole, so everything in it is untouched, here and in the other files.
    if (p.opaque) for (const r of p.records) held.add(r.tx);
  }
  const byTx = new Map<string, JournalRecord[]>();
  for (const p of parsed) {
    if (p.opaque) continue;
    for (const r of p.records) if (!held.has(r.tx)) byTx.set(r.tx, [...(byTx.get(r.tx) ?? []), r]);
  }
  const plan: AdoptionPlan = {
    issues: parsed.flatMap((p) => p.issues),
    adopt: new Map([...byTx].filter(([tx, records]) => Ledger.needsAdoption(tx, records))),
    held,
    remove: [],
    rewrite: [],
  };
  for (const p of parsed) {
    if (p.opaque) continue;
    const kept = linesNaming(p.text, held);
    if (kept === "") plan.remove.push(p.source);
    else if (kept !== p.text) plan.rewrite.push({ source: p.source, text: kept });
  }
  return plan;
}

/** The complete lines of `text` that name one of `txs`, each with its newline. */
function linesNaming(text: string, txs: ReadonlySet<string>): string {
  if (txs.size === 0) return "";
  const lines = text.split("\n");
  lines.pop(); // the torn rest, or "" after the last newline
  return lines
    .filter((line) => txsOfLine(line).some((tx) => txs.has(tx)))
    .map((line) => `${line}\n`)
    .join("");
}
