// Space kept back for the commands that free space. On a full state-dir disk, rm could not write
// the journal record it needs before releasing anything, so nothing could ever be removed. A
// 256 KiB file in the state dir is written whenever a runner closes with room for it, and deleted
// by stop / rm / gc / recover before they write: their journal records and record updates (a few
// KiB) then fit. Best effort both ways: a disk too full to hold it just has none.
import { open, unlink } from "node:fs/promises";
import path from "node:path";

const RESERVE_BYTES = 256 * 1024;

/** The reserve file of the state dir `root`. */
export function reserveFile(root: string): string {
  return path.join(root, "reserve");
}

/** Frees the reserve (before a command that frees space writes anything). */
export async function releaseReserve(root: string): Promise<void> {
  await unlink(reserveFile(root)).catch(() => undefined);
}

/** Writes the reserve if it is missing and fits; a partial one (the disk filled up) is removed. */
export async function restoreReserve(root: string): Promise<void> {
  const file = reserveFile(root);
  let handle;
  try {
    handle = await open(file, "wx", 0o600);
  } catch {
    return; // there already, or the dir is gone
  }
  try {
    await handle.write(Buffer.alloc(RESERVE_BYTES), 0, RESERVE_BYTES, 0);
    await handle.sync();
    await handle.close();
  } catch {
    await handle.close().catch(() => undefined);
    await unlink(file).catch(() => undefined);
  }
}
