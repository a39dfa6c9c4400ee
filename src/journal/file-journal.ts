// FileJournal: an append-only JSON-lines journal on disk, one segment file per process, fsynced
// before a step acquires, with group commit, compaction, and adoption of dead processes' segments
// by recovery.
import { open, readdir, readFile, rename, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { syncDir, writeAtomic } from "../internal/atomic-write.js";
import { isAlive, selfIdentity, type ForeignPidNamespaces, type ProcessIdentity } from "../internal/liveness.js";
import { describeHolder, isLockBusy, takeLockFile } from "../internal/lock-file.js";
import { JournalError } from "./errors.js";
import { Ledger, parseJournalText, type Journal, type RecoverySession } from "./journal.js";
import { ensurePrivateDir, isPrivateDirError } from "../internal/private-dir.js";
import { checkRecord, type JournalIssue, type JournalRecord } from "./records.js";
import { parseSegmentName, segmentName } from "./segment-name.js";

export interface FileJournalOptions {
  /**
   * Group commit (default true): records that need no fsync of their own (an acquisition's
   * description, a release) ride on the next fsync, and concurrent appends share one fsync. Off:
   * every record is written and fsynced alone.
   */
  readonly groupCommit?: boolean;
  /** Test hook: called before each write; throwing makes the write fail (storage fault injection). */
  readonly beforeWrite?: (bytes: number) => void;
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
  resolve(): void;
  reject(error: unknown): void;
}

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

export class FileJournal implements Journal {
  readonly dir: string;
  readonly #groupCommit: boolean;
  readonly #beforeWrite: ((bytes: number) => void) | undefined;
  readonly #ledger = new Ledger();
  readonly #self: ProcessIdentity = selfIdentity();
  readonly #segmentName = segmentName(this.#self);
  readonly #foreignPidNamespaces: ForeignPidNamespaces;
  #fh: FileHandle | undefined;
  #opening: Promise<FileHandle> | undefined;
  /** Bytes in the segment, and how many of them are still needed. */
  #size = 0;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #broken: JournalError | undefined;
  #closed = false;
  /** fsyncs done, for benchmarks and tests. */
  syncs = 0;

  constructor(dir: string, options: FileJournalOptions = {}) {
    if (typeof dir !== "string" || !path.isAbsolute(dir)) {
      throw new TypeError(`FileJournal: dir must be an absolute path, got ${JSON.stringify(dir)}`);
    }
    this.dir = path.resolve(dir);
    this.#groupCommit = options.groupCommit ?? true;
    this.#beforeWrite = options.beforeWrite;
    this.#foreignPidNamespaces = options.foreignPidNamespaces ?? "live";
  }

  /** This process's segment file. */
  get segmentPath(): string {
    return path.join(this.dir, this.#segmentName);
  }

  append(record: JournalRecord, durable: boolean): Promise<void> {
    if (this.#closed) return Promise.reject(new JournalError("closed", `journal ${this.dir} is closed`));
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    const line = `${JSON.stringify(record)}\n`;
    if (!durable && this.#groupCommit) {
      // Written in order with the next batch; losing it in a crash is safe by design (see docs/journal.md).
      this.#queue.push({ line, record, durable, resolve: noop, reject: noop });
      this.#kick();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ line, record, durable: true, resolve, reject });
      this.#kick();
    });
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
      try {
        if (this.#broken !== undefined) throw this.#broken;
        const fh = await this.#handle();
        const text = batch.map((p) => p.line).join("");
        await this.#write(fh, text);
        // The ledger (what compaction keeps) follows the file: a record whose write failed never
        // finishes its transaction, so a failed commit cannot get the segment emptied.
        for (const p of batch) if (p.record !== undefined) this.#ledger.add(p.record);
        if (batch.some((p) => p.durable)) {
          try {
            await fh.datasync();
          } catch (e) {
            throw ioError("fsync", this.segmentPath, e);
          }
          this.syncs++;
        }
        for (const p of batch) p.resolve();
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
      await this.#compactIfWorthIt();
    }
  }

  async #write(fh: FileHandle, text: string): Promise<void> {
    const bytes = Buffer.from(text);
    try {
      this.#beforeWrite?.(bytes.length);
      await fh.write(bytes);
      this.#size += bytes.length;
    } catch (e) {
      // Cut a partial write back off, so the next record does not land on a torn line.
      try {
        await fh.truncate(this.#size);
      } catch {
        this.#broken = ioError("write", this.segmentPath, e);
      }
      throw e instanceof JournalError ? e : ioError("write", this.segmentPath, e);
    }
  }

  #handle(): Promise<FileHandle> {
    if (this.#fh !== undefined) return Promise.resolve(this.#fh);
    this.#opening ??= (async () => {
      await journalDir(this.dir);
      const fh = await open(this.segmentPath, "ax", 0o600).catch((e: unknown) =>
        Promise.reject(ioError("create", this.segmentPath, e)),
      );
      await syncDir(this.dir);
      this.#fh = fh;
      return fh;
    })();
    return this.#opening;
  }

  // Compaction: finished transactions are dropped from the ledger; when nothing is left the
  // segment is emptied, and when much of it is dead it is rewritten with the live records.
  async #compactIfWorthIt(): Promise<void> {
    const fh = this.#fh;
    if (fh === undefined || this.#queue.length > 0 || this.#size === 0) return;
    try {
      if (this.#ledger.size === 0) {
        await fh.truncate(0);
        this.#size = 0;
        return;
      }
      if (this.#size < COMPACT_BYTES) return;
      const live = [...this.#ledger.records()].map((r) => `${JSON.stringify(r)}\n`).join("");
      if (this.#size - Buffer.byteLength(live) < COMPACT_BYTES / 2) return;
      const tmp = `${this.segmentPath}.tmp`;
      const out = await open(tmp, "w", 0o600);
      try {
        await out.write(live);
        await out.datasync();
      } finally {
        await out.close();
      }
      await rename(tmp, this.segmentPath);
      await syncDir(this.dir);
      await fh.close();
      this.#fh = await open(this.segmentPath, "a", 0o600);
      this.#size = Buffer.byteLength(live);
    } catch {
      // Compaction is an optimisation: the records stay valid when it fails.
    }
  }

  /** Waits until everything appended so far is written. */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
  }

  async openRecovery(): Promise<RecoverySession> {
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

  // Moves the unfinished transactions of dead processes' segments into this one (durably), then
  // deletes those segments. A crash in between leaves copies in both: recovery is idempotent.
  async #adoptDeadSegments(): Promise<JournalIssue[]> {
    const issues: JournalIssue[] = [];
    const names = await readdir(this.dir);
    const dead: string[] = [];
    const copied: Promise<void>[] = [];
    const newer: { file: string; lines: string[] }[] = [];
    for (const name of names) {
      const writer = parseSegmentName(name);
      if (writer === undefined || name === this.#segmentName) continue;
      if (await isAlive(writer, { foreignPidNamespaces: this.#foreignPidNamespaces })) continue;
      const file = path.join(this.dir, name);
      const text = await readFile(file, "utf8").catch((e: unknown) => Promise.reject(ioError("read", file, e)));
      const parsed = parseJournalText(text, file, checkRecord);
      issues.push(...parsed.issues);
      const byTx = new Map<string, JournalRecord[]>();
      for (const r of parsed.records) byTx.set(r.tx, [...(byTx.get(r.tx) ?? []), r]);
      for (const [tx, records] of byTx) {
        // Records we cannot fully read stay in the file for a newer errdefer; finished ones go.
        if (parsed.newerTx.has(tx) || !Ledger.needsAdoption(tx, records)) continue;
        this.#ledger.adopt(tx, records);
        for (const r of records) {
          copied.push(
            new Promise<void>((resolve, reject) =>
              this.#queue.push({ line: `${JSON.stringify(r)}\n`, record: undefined, durable: true, resolve, reject }),
            ),
          );
        }
      }
      const keepFile = parsed.newerTx.size > 0;
      if (keepFile) newer.push({ file, lines: text.split("\n").filter((line) => newerTxOf(line, parsed.newerTx)) });
      if (!keepFile) dead.push(file);
    }
    this.#kick();
    // Only once the copies are durable may the originals go.
    await Promise.all(copied);
    for (const file of dead) await unlink(file).catch(() => undefined);
    // A segment with newer-format transactions keeps only their lines: what we adopted is ours now.
    for (const { file, lines } of newer) await writeAtomic(file, lines.map((l) => `${l}\n`).join(""));
    if (dead.length + newer.length > 0) await syncDir(this.dir);
    return issues;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    const fh = this.#fh;
    this.#fh = undefined;
    if (fh === undefined) return;
    await fh.close();
    if (this.#ledger.size === 0) {
      await unlink(this.segmentPath).catch(() => undefined);
    }
  }
}

function noop(): void {}

/** Whether a raw line belongs to one of `txs` (a record this version could not read). */
function newerTxOf(line: string, txs: ReadonlySet<string>): boolean {
  try {
    const tx = (JSON.parse(line) as { tx?: unknown }).tx;
    return typeof tx === "string" && txs.has(tx);
  } catch {
    return false;
  }
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
