// The CRI server's claim on a state dir. `serve` holds the state dir's lock for as long as it runs
// (hours), so a CLI command that finds the lock held by it is refused at once, saying so, instead
// of waiting for a lock that will not be let go. The claim, `<state-dir>/cri-server.json`, names
// the server's PID and socket; it counts only while that PID holds the lock (the kernel's word),
// so a claim left by a killed server means nothing.
import { readFile, unlink } from "node:fs/promises";
import { isLockBusy, selfIdentity, takeLockFile, writeAtomic, type LockRelease } from "errdefer/host";
import type { StateLayout } from "../store.js";

/** Who serves a state dir: the server's PID and its listen address (`unix:///...`). */
export interface ServerClaim {
  readonly pid: number;
  readonly listen: string;
}

/** A command refused because the CRI server holds the state dir. */
export class StateDirServedError extends Error {
  override readonly name = "StateDirServedError";
  readonly code = "served";
  constructor(
    readonly stateDir: string,
    readonly claim: ServerClaim,
  ) {
    super(
      `the state dir ${stateDir} is held by the CRI server (process ${claim.pid}, listening on ${claim.listen}): ` +
        `use the CRI API there (crictl --runtime-endpoint ${claim.listen}), or stop the server (SIGTERM) first`,
    );
  }
}

/** Written by the server once it holds the lock and listens. */
export async function writeServerClaim(layout: StateLayout, claim: ServerClaim): Promise<void> {
  await writeAtomic(layout.server, `${JSON.stringify(claim)}\n`, { durability: "crash" });
}

/** Removed by the server before it lets the lock go. Idempotent. */
export async function removeServerClaim(layout: StateLayout): Promise<void> {
  await unlink(layout.server).catch((e: NodeJS.ErrnoException) =>
    e.code === "ENOENT" ? undefined : Promise.reject(e),
  );
}

async function readServerClaim(layout: StateLayout): Promise<ServerClaim | undefined> {
  try {
    const claim = JSON.parse((await readFile(layout.server, "utf8")).slice(0, 4096)) as Partial<ServerClaim>;
    return Number.isInteger(claim.pid) && typeof claim.listen === "string" ? (claim as ServerClaim) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the state dir's lock: at once when free; refused with StateDirServedError when the CRI
 * server holds it; otherwise waiting up to `waitMs` for the holder (another command) to finish.
 */
export async function takeStateLock(layout: StateLayout, waitMs: number): Promise<LockRelease> {
  try {
    return await takeLockFile(layout.lock, selfIdentity());
  } catch (e) {
    if (!isLockBusy(e)) throw e;
    const claim = await readServerClaim(layout);
    if (claim !== undefined && e.holder !== undefined && claim.pid === e.holder.pid)
      throw new StateDirServedError(layout.root, claim);
  }
  return takeLockFile(layout.lock, selfIdentity(), { waitMs });
}
