// A lock file naming its holder (PID and start time). A holder that died (SIGKILL) leaves a stale
// lock, which the next taker recognises through /proc and takes over.
import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { brand } from "./brand.js";
import { isAlive, type ProcessIdentity } from "./liveness.js";

const lockBusyBrand = brand("LockBusyError");

/** The lock is held by another live process. */
export class LockBusyError extends Error {
  override readonly name = "LockBusyError";
  readonly code = "lock-busy";
  constructor(
    readonly file: string,
    readonly holder: ProcessIdentity,
  ) {
    super(`${file} is held by process ${holder.pid}`);
    lockBusyBrand.mark(this);
  }
}

export function isLockBusy(value: unknown): value is LockBusyError {
  return lockBusyBrand.is(value);
}

export interface TakeLockOptions {
  /** Keep trying this long while a live process holds it (default 0: fail at once). */
  readonly waitMs?: number;
  readonly signal?: AbortSignal;
}

/** Takes the lock; resolves to its release. Rejects with LockBusyError, or an fs error. */
export async function takeLockFile(
  file: string,
  self: ProcessIdentity,
  options: TakeLockOptions = {},
): Promise<() => Promise<void>> {
  const body = JSON.stringify({ pid: self.pid, startTime: self.startTime });
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      const fh = await open(file, "wx", 0o600);
      try {
        await fh.write(body);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      return () => unlink(file).catch(() => undefined);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let holder: ProcessIdentity | undefined;
    try {
      const parsed = JSON.parse(await readFile(file, "utf8")) as { pid?: unknown; startTime?: unknown };
      if (typeof parsed.pid === "number" && typeof parsed.startTime === "string")
        holder = { pid: parsed.pid, startTime: parsed.startTime };
    } catch {
      // Unreadable or vanished: a holder killed between create and write, or one that just let go.
    }
    if (holder !== undefined && (await isAlive(holder))) {
      if (Date.now() >= deadline) throw new LockBusyError(file, holder);
      await sleep(Math.min(5 * 2 ** Math.min(attempt, 5), 100));
      continue;
    }
    if (holder === undefined) {
      // Give a holder that is between create and write a moment before calling it stale.
      await sleep(20);
      const again = await readFile(file, "utf8").catch(() => undefined);
      if (again !== undefined && again !== "") continue;
    }
    // Stale: rename it away first so two takers cannot both remove a fresh lock.
    const stale = `${file}.stale-${randomBytes(4).toString("hex")}`;
    await rename(file, stale).then(
      () => unlink(stale),
      () => undefined,
    );
  }
}
