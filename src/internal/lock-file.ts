// A lock the kernel keeps: flock(2) on a file. Who holds it is the kernel's word, not a guess read
// back from /proc, and it is let go when its holder dies, however it dies (SIGKILL, OOM kill,
// power cut), in whatever PID namespace the holder ran.
//
// Node has no flock binding, so util-linux's flock(1) takes the lock *for us*: we open the file
// and pass the descriptor as its fd 3 (`flock --exclusive --nonblock 3`). A flock(2) lock belongs
// to the open file description, which we share with flock(1); when it exits, the lock stays with
// the descriptor we keep. Releasing is closing that descriptor, and the kernel closes it when we
// die. Node opens every file close-on-exec, so no command started later inherits it: a helper that
// outlives us holds no lock of ours. Once the lock is taken nothing runs on and nothing keeps the
// event loop alive.
//
// The lock file's content means nothing: it is never read, written, renamed or removed. Garbage,
// an empty or zero-filled file, an old-format lock naming a dead process, even a directory: each
// is locked like any other file. Who holds the lock is written to `<file>.holder` once it is held,
// for messages only, and removed (while still held) before it is let go.
import { spawn } from "node:child_process";
import { close, constants, fstat, open as openCallback, type Stats } from "node:fs";
import { open, readdir, unlink } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { writeAtomic } from "./atomic-write.js";
import { brand } from "./brand.js";
import { asProcessIdentity, isAlive, placeOf, selfIdentity, type ProcessIdentity } from "./liveness.js";

const lockBusyBrand = brand("LockBusyError");

/** The lock is held by another process (or, in this process, by another taker). */
export class LockBusyError extends Error {
  override readonly name = "LockBusyError";
  readonly code = "lock-busy";
  constructor(
    readonly file: string,
    /**
     * Who holds it, as its holder file says; undefined when that is not known (the holder has not
     * written it yet, or it names a process that is gone: a holder that has just taken over).
     */
    readonly holder: ProcessIdentity | undefined,
  ) {
    super(`${file} is held by ${describeHolder(holder)}`);
    lockBusyBrand.mark(this);
  }
}

/** Whether `value` is the `LockBusyError` of a lock another live process holds. */
export function isLockBusy(value: unknown): value is LockBusyError {
  return lockBusyBrand.is(value);
}

/** `process 123`, `process 7 (in PID namespace 4026532412)`, or `another process`. */
export function describeHolder(holder: ProcessIdentity | undefined): string {
  if (holder === undefined) return "another process";
  if (placeOf(holder) === "other-namespace") return `process ${holder.pid} (in PID namespace ${holder.pidNamespace})`;
  return `process ${holder.pid}`;
}

/** How `takeLockFile` takes the lock. */
export interface TakeLockOptions {
  /** Wait this long for the holder to let go (default 0: fail at once with LockBusyError). */
  readonly waitMs?: number;
  /** Stops waiting: the promise rejects with the signal's reason, and nothing is held. */
  readonly signal?: AbortSignal;
}

/** The informational file naming the lock's holder: `<file>.holder`. */
export function lockHolderFile(file: string): string {
  return `${file}.holder`;
}

/** Lets the lock go (idempotent); also async-disposable, for `await using held = await takeLockFile(...)`. */
export type LockRelease = (() => Promise<void>) & AsyncDisposable;

/**
 * Takes an exclusive flock(2) lock on `file` (created 0600 if missing; never removed); resolves to
 * its release, which is idempotent. `self` (this process) is written to `<file>.holder` once the
 * lock is held. Rejects with LockBusyError when another holder keeps it past `waitMs`, with the
 * signal's reason on abort, or with an error when the path cannot be locked (a symlink, FIFO,
 * socket or device; flock(1) missing).
 */
export async function takeLockFile(
  file: string,
  self: ProcessIdentity,
  options: TakeLockOptions = {},
): Promise<LockRelease> {
  options.signal?.throwIfAborted();
  const fd = await openLockFile(file);
  try {
    if (!(await flockFd(fd, file, options))) throw new LockBusyError(file, await readHolder(file));
  } catch (error) {
    await closeFd(fd);
    throw error;
  }
  await writeHolder(file, self);
  await sweepLeftovers(file);
  let released: Promise<void> | undefined;
  const release = (): Promise<void> =>
    (released ??= (async () => {
      // Still ours while we hold the lock; once it is let go the next holder writes its own.
      await unlink(lockHolderFile(file)).catch(() => undefined);
      await closeFd(fd);
    })());
  return Object.assign(release, { [Symbol.asyncDispose]: release });
}

const openFd = promisify(openCallback);
const fstatFd = promisify(fstat);
const closeFd = (fd: number): Promise<void> => promisify(close)(fd).catch(() => undefined);

// Not following a symlink; not blocking on a FIFO; never becoming our controlling terminal.
const { O_RDONLY, O_CREAT, O_NOFOLLOW, O_NOCTTY, O_NONBLOCK, O_DIRECTORY } = constants;

/** Opens (or creates) the lock file; a directory is opened as one. Refuses FIFOs, sockets, devices. */
async function openLockFile(file: string): Promise<number> {
  let fd: number;
  try {
    fd = await openFd(file, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw notLockable(file, "it is a symlink", "ELOOP");
    if (code !== "EISDIR") throw e;
    fd = await openFd(file, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  }
  let stats: Stats;
  try {
    stats = await fstatFd(fd);
  } catch (e) {
    await closeFd(fd);
    throw e;
  }
  if (stats.isFile() || stats.isDirectory()) return fd;
  await closeFd(fd);
  throw notLockable(file, "it is not a regular file or directory", "EINVAL");
}

function notLockable(file: string, why: string, code: string): Error {
  return Object.assign(new Error(`${file} cannot be a lock file: ${why}`), { code, path: file });
}

// flock(1)'s exit status when the lock is held by another (for --nonblock, or --wait running out).
const BUSY_EXIT = 75;

/** Locks `fd` through flock(1): true when held, false when another holder kept it. */
function flockFd(fd: number, file: string, options: TakeLockOptions): Promise<boolean> {
  const waitMs = Math.max(0, options.waitMs ?? 0);
  const how = waitMs > 0 ? ["--wait", (waitMs / 1000).toFixed(3)] : ["--nonblock"];
  const args = ["--exclusive", "--conflict-exit-code", String(BUSY_EXIT), ...how, "3"];
  return new Promise<boolean>((resolve, reject) => {
    const child = spawn("flock", args, { stdio: ["ignore", "ignore", "pipe", fd] });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (s: string) => (stderr = (stderr + s).slice(0, 2000)));
    // Killed while waiting, it holds nothing; killed having just locked, the lock is on our
    // descriptor, which the caller closes.
    const onAbort = (): void => void child.kill("SIGKILL");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let spawnError: Error | undefined;
    child.once("error", (e) => (spawnError = e));
    child.once("close", (code, signal) => {
      options.signal?.removeEventListener("abort", onAbort);
      if (options.signal?.aborted === true) reject(options.signal.reason);
      else if (spawnError !== undefined) reject(flockMissing(spawnError));
      else if (code === 0) resolve(true);
      else if (code === BUSY_EXIT) resolve(false);
      else {
        const how = signal !== null ? `killed by ${signal}` : `exit ${code}`;
        reject(new Error(`flock(1) could not lock ${file} (${how}): ${stderr.trim()}`));
      }
    });
  });
}

function flockMissing(e: NodeJS.ErrnoException): Error {
  if (e.code !== "ENOENT") return e;
  return Object.assign(new Error("taking a lock file needs util-linux's flock(1) on PATH", { cause: e }), {
    code: "ENOENT",
  });
}

/** Writes who holds the lock; informational, so a failure is ignored. */
async function writeHolder(file: string, self: ProcessIdentity): Promise<void> {
  const here = selfIdentity();
  const holder = { ...self, pidNamespace: self.pidNamespace ?? here.pidNamespace, bootId: self.bootId ?? here.bootId };
  await writeAtomic(lockHolderFile(file), `${JSON.stringify(holder)}\n`, { durability: "crash" }).catch(
    () => undefined,
  );
}

/** The most a holder file is read: it is one line of JSON. */
const HOLDER_MAX_BYTES = 4096;

/**
 * The holder named by the holder file, unless that names a process known to be gone. Only a
 * regular file is read (not through a symlink, never blocking on a FIFO): anything else at that
 * path names nobody.
 */
async function readHolder(file: string): Promise<ProcessIdentity | undefined> {
  let holder: ProcessIdentity | undefined;
  try {
    const handle = await open(lockHolderFile(file), O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    try {
      if (!(await handle.stat()).isFile()) return undefined;
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(HOLDER_MAX_BYTES), 0, HOLDER_MAX_BYTES, 0);
      holder = asProcessIdentity(JSON.parse(buffer.subarray(0, bytesRead).toString("utf8")));
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  return holder !== undefined && (await isAlive(holder)) ? holder : undefined;
}

/**
 * Removes, while the lock is held, what takers killed mid-way left beside it: copies of stale
 * locks the old rename-based takeover made (`<file>.stale-<8 hex>`) and temp files of the holder
 * file (only a holder writes it, and we hold the lock now). Best effort.
 */
async function sweepLeftovers(file: string): Promise<void> {
  const dir = path.dirname(file);
  const base = path.basename(file).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const leftover = new RegExp(`^(${base}\\.stale-[0-9a-f]{8}|\\.${base}\\.holder\\.\\d+-[0-9a-f]{8}\\.tmp)$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) if (leftover.test(name)) await unlink(path.join(dir, name)).catch(() => undefined);
}
