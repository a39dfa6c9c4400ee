// A Journal fake for the journal writer's tests: a MemoryJournal behind a switch that makes chosen
// appends fail (the record never reaches the journal), and a log of every append with its
// durability. (A candidate for test/support/ once more suites use it.)
import type { Journal, JournalRecord, RecoverySession } from "../../src/journal/index.js";
import { MemoryJournal } from "../../src/journal/index.js";

export interface Append {
  readonly record: JournalRecord;
  readonly durable: boolean;
}

export class FaultyJournal implements Journal {
  /** Where the appends that do not fail go (a MemoryJournal.fromLines plays a restarted process). */
  readonly memory: MemoryJournal;
  /** Every append asked for, failed or not, in order. */
  readonly appends: Append[] = [];
  /** The appends that failed. */
  readonly failed: JournalRecord[] = [];
  /** Which appends fail; none by default. */
  failWhen: (record: JournalRecord) => boolean = () => false;
  readonly error = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });

  constructor(memory = new MemoryJournal()) {
    this.memory = memory;
  }

  append(record: JournalRecord, durable: boolean): Promise<void> {
    this.appends.push({ record, durable });
    if (this.failWhen(record)) {
      this.failed.push(record);
      return Promise.reject(this.error);
    }
    return this.memory.append(record, durable);
  }

  openRecovery(): Promise<RecoverySession> {
    return this.memory.openRecovery();
  }

  close(): Promise<void> {
    return this.memory.close();
  }

  /** What reached the journal: the lines a restarted process would read. */
  lines(): readonly string[] {
    return this.memory.lines();
  }

  /** Fails every append of these record types. */
  failTypes(...types: JournalRecord["t"][]): this {
    this.failWhen = (r) => types.includes(r.t);
    return this;
  }
}

/** "t" or "t:step" of a record, to compare sequences. */
export function describeRecord(r: JournalRecord): string {
  return "step" in r ? `${r.t}:${r.step}` : r.t;
}
