// FileJournal: an append-only JSON-lines journal on disk, one segment file per process, fsynced
// before a step acquires, with group commit, compaction, and adoption of dead processes' segments
// by recovery.
import { open, readdir, readFile, rename, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { syncDir, writeAtomic } from "../internal/atomic-write.js";
import { isAlive, selfIdentity, type ForeignPidNamespaces, type ProcessIdentity } from "../internal/liveness.js";
import { describeHolder, isLockBusy, takeLockFile } from "../internal/lock-file.js";
import { planAdoption, type DeadFile } from "./adoption.js";
import { isJournalError, JournalError } from "./errors.js";
import { Ledger, type Journal, type RecoverySession } from "./journal.js";
import { ensurePrivateDir, isPrivateDirError } from "../internal/private-dir.js";
import type { JournalIssue, JournalRecord } from "./records.js";
import { writeVerifiedCopy, writeWhole, type BeforeWrite } from "./segment-io.js";
import { parseSegmentName, segmentName } from "./segment-name.js";

/** How a `FileJournal` writes: group commit, and the storage-fault and PID-namespace settings. */
export interface FileJournalOptions {
  /**
   * Group commit (default true): records that need no fsync of their own (an acquisition's
   * description, a release) ride on the next fsync, and concurrent appends share one fsync. Off:
   * every record is written and fsynced alone.
   */
  readonly groupCommit?: boolean;
  /**
   * Test hook (storage fault injection), called before each write system call with the bytes still
   * to write and what they go to (`"segment"`, or compaction's `"copy"`): throwing fails the write;
   * returning a number lets only that many bytes through (a short write), and the rest is asked for
   * again.
   */
  readonly beforeWrite?: BeforeWrite;
  /**
   * How recovery judges a segment written in another PID namespace of this boot (a sidecar
   * container sharing the directory), whose writer it cannot look up by PID. `"live"` (the
   * default): never adopted, so a live writer's resources are never released under it. `"dead"`:
   * adopted like a dead process's, for callers who know no other PID namespace writes here while
   * they recover. Segments of an earlier boot are always adopted; those of this namespace are
   * judged by PID and start time.
   */
  readonly foreignPidNamespaces?: ForeignPidNamespaces;
}

const LOCK_FILE = "recover.lock";
// Rewrite the segment when this many bytes belong to finished transactions.
const COMPACT_BYTES = 1 << 20;

interface Pending {
  readonly line: string;
  /** Joins the ledger once written (adopted copies are in it already). */
  readonly record: JournalRecord | undefined;
  readonly durable: boolean;
  /** Acknowledged before it was written (group commit's lazy records): its failure is kept for later. */
  readonly early: boolean;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The FileJournals of this process that have a segment, by its path. A journal recovering the
 * directory takes over what they abandoned (and what a closed one kept) through them: their PID
 * is alive, so it could not tell otherwise.
 */
const segmentsHere = new Map<string, FileJournal>();

// Left by killed writers besides segments: compaction's copy of a segment, and writeAtomic's temp
// of a segment rewritten by recovery (under the lock). (The lock sweeps its own leftovers.)
const COMPACTION_COPY = /^(.+)\.tmp$/;
const REWRITE_TEMP = /^\.(.+)\.\d+-[0-9a-f]{8}\.tmp$/;

function ioError(what: string, file: string, cause: unknown): JournalError {
  const e = cause as NodeJS.ErrnoException;
  return new JournalError(
    "io",
    `failed to ${what} ${file}: ${e.code ?? ""} ${e.message ?? String(cause)}`.replace("  ", " "),
    {
      path: file,
      cause,
    },
  );
}

/**
 * This process's identity, which names its segment and lets recovery judge it: read from /proc,
 * so Linux only. Fails here, with a JournalError that says so, rather than with a raw ENOENT.
 */
function identityOnLinux(dir: string): ProcessIdentity {
  if (process.platform !== "linux") {
    throw new JournalError(
      "unsupported-platform",
      `FileJournal needs Linux (it reads /proc for process identity); this is ${process.platform}: use MemoryJournal elsewhere`,
      { path: dir },
    );
  }
  try {
    return selfIdentity();
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new JournalError(
      "unsupported-platform",
      `FileJournal could not read this process's identity from /proc (is /proc mounted?): ${why}`,
      { path: dir, cause },
    );
  }
}

/** The failure of a lazy record, as the next durable append or flush reports it (same code and cause). */
function lostError(error: unknown, file: string): JournalError {
  const journal = isJournalError(error) ? error : undefined;
  const what = error instanceof Error ? error.message : String(error);
  return new JournalError(
    journal?.code ?? "io",
    `an earlier record (not waited for: group commit) could not be written: ${what}`,
    { path: journal?.path ?? file, cause: journal?.cause ?? error },
  );
}

/**
 * The durable journal: an append-only JSON-lines file per process in `dir` (private, 0700/0600),
 * fsynced before each resource step acquires, so that after a crash `recover` can release what
 * the dead process held. Group commit shares fsyncs between concurrent sagas; finished
 * transactions are compacted away; dead processes' segments are adopted by recovery.
 *
 * Contract: a resource step's intent is on disk before its acquire starts; a failed write fails
 * the step (or, for a record after the fact, is reported in `journalFailures`), never the
 * resources already made. Linux only (it reads `/proc`): elsewhere the constructor throws a
 * `JournalError` with code `unsupported-platform`. Close it (`close()`, or `await using`) when
 * done; see docs/journal.md.
 */
export class FileJournal implements Journal {
  readonly dir: string;
  readonly #groupCommit: boolean;
  readonly #beforeWrite: BeforeWrite | undefined;
  readonly #ledger = new Ledger();
  readonly #self: ProcessIdentity;
  readonly #segmentName: string;
  readonly #foreignPidNamespaces: ForeignPidNamespaces;
  #fh: FileHandle | undefined;
  #opening: Promise<FileHandle> | undefined;
  /** Bytes in the segment, every one of them part of a whole write. */
  #size = 0;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #broken: JournalError | undefined;
  /** A lazy record's failed write, until the next durable append or flush reports it. */
  #lost: JournalError | undefined;
  /** The directory entry of the segment is not known to be durable (a failed directory fsync). */
  #dirUnsynced = false;
  #closed = false;
  /** fsyncs done, for benchmarks and tests. */
  syncs = 0;

  constructor(dir: string, options: FileJournalOptions = {}) {
    if (typeof dir !== "string" || !path.isAbsolute(dir)) {
      throw new TypeError(`FileJournal: dir must be an absolute path, got ${JSON.stringify(dir)}`);
    }
    this.dir = path.resolve(dir);
    this.#self = identityOnLinux(this.dir);
    this.#segmentName = segmentName(this.#self);
    this.#groupCommit = options.groupCommit ?? true;
    this.#beforeWrite = options.beforeWrite;
    this.#foreignPidNamespaces = options.foreignPidNamespaces ?? "live";
  }

  /** This process's segment file. */
  get segmentPath(): string {
    return path.join(this.dir, this.#segmentName);
  }

  append(record: JournalRecord, durable: boolean): Promise<void> {
    // Live from its begin, whatever becomes of the record: recovery never touches a running saga.
    if (record.t === "begin") this.#ledger.start(record.tx);
    const refused = this.#closed ? new JournalError("closed", `journal ${this.dir} is closed`) : this.#broken;
    if (refused !== undefined) {
      this.#settled(record);
      return Promise.reject(refused);
    }
    const line = `${JSON.stringify(record)}\n`;
    if (!durable && this.#groupCommit) {
      // Written in order with the next batch; losing it in a crash is safe by design (see
      // docs/journal.md). A failed write is reported to the next durable append or flush.
      this.#queue.push({ line, record, durable, early: true, resolve: noop, reject: noop });
      this.#kick();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ line, record, durable: true, early: false, resolve, reject });
      this.#kick();
    });
  }

  /** A record's append is over, written or not: an end finishes its run here. */
  #settled(record: JournalRecord | undefined): void {
    if (record?.t === "end") this.#ledger.finish(record.tx);
  }

  #kick(): void {
    this.#flushing ??= this.#flushLoop().finally(() => {
      this.#flushing = undefined;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #flushLoop(): Promise<void> {
    while (this.#queue.length > 0) {
      // Group commit takes everything queued (appends that arrived during the last fsync too).
      const batch = this.#groupCommit ? this.#queue.splice(0) : this.#queue.splice(0, 1);
      const { toWrite, reported } = this.#refuseAfterLoss(batch);
      if (toWrite.length > 0) await this.#writeBatch(toWrite, reported);
      for (const p of batch) this.#settled(p.record);
      await this.#compactIfWorthIt();
    }
  }

  /**
   * After a lazy record was lost, the durable appends of the next batch that has any fail with
   * that loss, unwritten: each promises that every record before it is on disk. The lazy records
   * queued before the last of them are `reported` by it: if their own write fails, that is said.
   */
  #refuseAfterLoss(batch: Pending[]): { toWrite: Pending[]; reported: number } {
    const lost = this.#lost;
    const refused = lost === undefined ? [] : batch.filter((p) => p.durable && !p.early && p.record !== undefined);
    if (refused.length === 0) return { toWrite: batch, reported: 0 };
    this.#lost = undefined;
    for (const p of refused) p.reject(lost);
    const last = batch.indexOf(refused.at(-1)!);
    return {
      toWrite: batch.filter((p) => !refused.includes(p)),
      reported: batch.slice(0, last).filter((p) => !refused.includes(p)).length,
    };
  }

  /** Writes `batch`; a failure of one of its lazy records past the first `reported` is kept for later. */
  async #writeBatch(batch: Pending[], reported: number): Promise<void> {
    try {
      if (this.#broken !== undefined) throw this.#broken;
      const fh = await this.#handle();
      await this.#write(fh, batch.map((p) => p.line).join(""));
      // The ledger (what compaction keeps) follows the file: a record whose write failed never
      // finishes its transaction, so a failed commit cannot get the segment emptied.
      for (const p of batch) if (p.record !== undefined) this.#ledger.add(p.record);
      if (batch.some((p) => p.durable)) await this.#sync(fh);
      for (const p of batch) p.resolve();
    } catch (error) {
      for (const p of batch) p.reject(error);
      if (batch.slice(reported).some((p) => p.early)) this.#lost ??= lostError(error, this.segmentPath);
    }
  }

  /** Appends `text` whole, or cuts what part of it was written back off and throws. */
  async #write(fh: FileHandle, text: string): Promise<void> {
    const bytes = Buffer.from(text);
    try {
      await writeWhole(fh, bytes, "segment", this.#beforeWrite);
      this.#size += bytes.length;
    } catch (e) {
      // #size counts whole writes only: the next record must not land on a torn line.
      try {
        await fh.truncate(this.#size);
      } catch {
        this.#broken = ioError("write", this.segmentPath, e);
      }
      throw e instanceof JournalError ? e : ioError("write", this.segmentPath, e);
    }
  }

  /** fsyncs the segment, and its directory entry too while that is not known to be durable. */
  async #sync(fh: FileHandle): Promise<void> {
    try {
      await fh.datasync();
    } catch (e) {
      throw ioError("fsync", this.segmentPath, e);
    }
    if (this.#dirUnsynced) {
      try {
        await syncDir(this.dir);
      } catch (e) {
        throw ioError("fsync", this.dir, e);
      }
      this.#dirUnsynced = false;
    }
    this.syncs++;
  }

  #handle(): Promise<FileHandle> {
    if (this.#fh !== undefined) return Promise.resolve(this.#fh);
    this.#opening ??= this.#create().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #create(): Promise<FileHandle> {
    await journalDir(this.dir);
    const fh = await open(this.segmentPath, "ax", 0o600).catch((e: unknown) =>
      Promise.reject(ioError("create", this.segmentPath, e)),
    );
    this.#fh = fh;
    segmentsHere.set(this.segmentPath, this);
    // A failed directory fsync is retried before the next durable append is acknowledged.
    await syncDir(this.dir).catch(() => (this.#dirUnsynced = true));
    return fh;
  }

  // Compaction: finished transactions are dropped from the ledger; when nothing is left the
  // segment is emptied, and when much of it is dead it is rewritten with the live records.
  // Compaction is an optimisation: if it fails, the records stay valid.
  async #compactIfWorthIt(): Promise<void> {
    const fh = this.#fh;
    if (fh === undefined || this.#queue.length > 0 || this.#size === 0) return;
    if (this.#ledger.size > 0 && this.#size < COMPACT_BYTES) return;
    const live = this.#liveBytes();
    if (this.#ledger.size > 0 && this.#size - live.length < COMPACT_BYTES / 2) return;
    await this.#rewrite(fh, live).catch(noop);
  }

  #liveBytes(): Buffer {
    return Buffer.from([...this.#ledger.records()].map((r) => `${JSON.stringify(r)}\n`).join(""));
  }

  /**
   * Replaces the segment's content with `live`: emptied in place, or a copy written whole, fsynced
   * and read back before it is renamed over the segment (a copy cut short never replaces it).
   */
  async #rewrite(fh: FileHandle, live: Buffer): Promise<void> {
    if (live.length === 0) {
      await fh.truncate(0);
      this.#size = 0;
      return;
    }
    const tmp = `${this.segmentPath}.tmp`;
    const copy = await writeVerifiedCopy(tmp, live, this.#beforeWrite);
    try {
      await rename(tmp, this.segmentPath);
    } catch (e) {
      await copy.close().catch(noop);
      await unlink(tmp).catch(noop);
      throw e;
    }
    // The copy is the segment now: later records go to it, whatever the directory fsync says.
    this.#fh = copy;
    this.#size = live.length;
    await fh.close().catch(noop);
    await syncDir(this.dir).catch(() => (this.#dirUnsynced = true));
  }

  /** Runs `task` between batches: no write, compaction or other task runs meanwhile. */
  async #exclusive<T>(task: () => Promise<T>): Promise<T> {
    while (this.#flushing !== undefined) await this.#flushing;
    const run = task();
    this.#flushing = run.then(noop, noop).finally(() => {
      this.#flushing = undefined;
      if (this.#queue.length > 0) this.#kick();
    });
    return run;
  }

  /**
   * Waits until everything appended so far is written. Rejects with the failure of a record
   * appended without waiting (group commit) that no durable append has reported yet.
   */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    const lost = this.#lost;
    this.#lost = undefined;
    if (lost !== undefined) throw lost;
  }

  async openRecovery(): Promise<RecoverySession> {
    if (this.#closed) throw new JournalError("closed", `journal ${this.dir} is closed`);
    await journalDir(this.dir);
    const release = await takeLockFile(path.join(this.dir, LOCK_FILE), this.#self).catch((e: unknown) =>
      Promise.reject(
        isLockBusy(e)
          ? new JournalError("locked", `journal ${this.dir} is being recovered by ${describeHolder(e.holder)}`, {
              path: e.file,
            })
          : ioError("lock", path.join(this.dir, LOCK_FILE), e),
      ),
    );
    try {
      const issues = await this.#adoptDeadSegments();
      return { transactions: this.#ledger.abandoned(), issues, close: release };
    } catch (error) {
      await release();
      throw error;
    }
  }

  /** Whether `name` is a segment whose writer is dead (as its name says: PID, start time, and where). */
  async #writtenByTheDead(name: string): Promise<boolean> {
    const writer = parseSegmentName(name);
    if (writer === undefined || name === this.#segmentName || segmentsHere.has(path.join(this.dir, name))) return false;
    return !(await isAlive(writer, { foreignPidNamespaces: this.#foreignPidNamespaces }));
  }

  // Moves the unfinished transactions of dead processes' segments, and those other journals of
  // this process abandoned, into this one (durably), then deletes or trims what they came from. A
  // crash in between leaves copies in both: recovery is idempotent. What a transaction may be
  // adopted is decided over every dead segment at once (see planAdoption).
  async #adoptDeadSegments(): Promise<JournalIssue[]> {
    const names = await readdir(this.dir);
    const dead: string[] = [];
    const here: FileJournal[] = [];
    for (const name of names) {
      const other = segmentsHere.get(path.join(this.dir, name));
      if (other !== undefined && other !== this) here.push(other);
      else if (await this.#writtenByTheDead(name)) dead.push(path.join(this.dir, name));
    }
    await this.#sweep(names);
    const plan = planAdoption(await Promise.all(dead.map(readDead)));
    const copied: Promise<void>[] = [];
    for (const [tx, records] of plan.adopt) this.#takeOver(tx, records, copied);
    const taken = new Map<FileJournal, string[]>();
    for (const other of here) {
      const abandoned = [...(await other.#abandonedRecords())].filter(([tx]) => !plan.held.has(tx));
      for (const [tx, records] of abandoned) this.#takeOver(tx, records, copied);
      taken.set(
        other,
        abandoned.map(([tx]) => tx),
      );
    }
    this.#kick();
    // Only once the copies are durable may the originals go.
    await Promise.all(copied);
    for (const file of plan.remove) await unlink(file).catch(noop);
    // A segment with transactions left untouched keeps only their lines: what we adopted is ours now.
    for (const { source, text } of plan.rewrite) await writeAtomic(source, text);
    for (const [other, txs] of taken) await other.#giveUp(txs);
    if (plan.remove.length + plan.rewrite.length > 0) await syncDir(this.dir);
    return plan.issues;
  }

  /** Adopts a transaction found elsewhere, and queues its durable copy into this segment. */
  #takeOver(tx: string, records: readonly JournalRecord[], copied: Promise<void>[]): void {
    this.#ledger.adopt(tx, records);
    for (const r of records) {
      const line = `${JSON.stringify(r)}\n`;
      copied.push(
        new Promise<void>((resolve, reject) =>
          this.#queue.push({ line, record: undefined, durable: true, early: false, resolve, reject }),
        ),
      );
    }
  }

  /** What this journal abandoned (for another journal of this process to take over). */
  #abandonedRecords(): Promise<Map<string, JournalRecord[]>> {
    return this.#exclusive(async () => this.#ledger.abandonedRecords());
  }

  /** Forgets transactions another journal took over (durably), and rewrites the segment without them. */
  async #giveUp(txs: readonly string[]): Promise<void> {
    await this.#exclusive(async () => {
      this.#ledger.drop(txs);
      const live = this.#liveBytes();
      if (this.#fh !== undefined) return this.#rewrite(this.#fh, live);
      // Closed: nothing else writes here any more.
      if (live.length > 0) return writeAtomic(this.segmentPath, live);
      await unlink(this.segmentPath).catch(noop);
      segmentsHere.delete(this.segmentPath);
    }).catch(noop); // Left as it was, the segment only repeats what the copies say (recovery is idempotent).
  }

  /** Removes what killed writers left besides segments (see COMPACTION_COPY); runs under the lock. */
  async #sweep(names: readonly string[]): Promise<void> {
    for (const name of names) {
      const copyOf = COMPACTION_COPY.exec(name)?.[1];
      const rewriteOf = REWRITE_TEMP.exec(name)?.[1];
      const leftover =
        (rewriteOf !== undefined && parseSegmentName(rewriteOf) !== undefined) ||
        (copyOf !== undefined && !name.startsWith(".") && (await this.#writtenByTheDead(copyOf)));
      if (leftover) await unlink(path.join(this.dir, name)).catch(noop);
    }
  }

  /** `close()`, for `await using journal = new ...`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Flushes and closes. The segment is removed when nothing in it is left to recover; otherwise it
   * stays, and another journal of this process can recover it (see #adoptDeadSegments). A lazy
   * record's failure not reported yet is not reported here either (nothing written after it claims
   * it is on disk, and what it said is redone by recovery): call flush() first to hear of it.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    while (this.#flushing !== undefined) await this.#flushing;
    this.#lost = undefined;
    this.#closed = true;
    const fh = this.#fh;
    this.#fh = undefined;
    if (fh !== undefined) {
      await fh.close();
      if (this.#ledger.size === 0) {
        await unlink(this.segmentPath).catch(noop);
        segmentsHere.delete(this.segmentPath);
      }
    }
  }
}

function noop(): void {}

/** A dead writer's segment, read whole. */
async function readDead(file: string): Promise<DeadFile> {
  const text = await readFile(file, "utf8").catch((e: unknown) => Promise.reject(ioError("read", file, e)));
  return { source: file, text };
}

/** The journal's directory, private (see ensurePrivateDir); its refusal as a JournalError. */
async function journalDir(dir: string): Promise<void> {
  try {
    await ensurePrivateDir(dir);
  } catch (e) {
    if (!isPrivateDirError(e)) throw ioError("create", dir, e);
    throw new JournalError(e.code, `journal ${e.message}`, { path: e.path, cause: e });
  }
}
