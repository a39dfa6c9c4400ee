// Writing a file whole or not at all: the one helper for every record, config and reservation
// errdefer and its example write in place.
import { randomBytes } from "node:crypto";
import { link, open, rename, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";

/**
 * What a write must survive.
 * - `"crash"`: the writing process dying (SIGKILL, OOM kill, a thrown error): readers see the old
 *   file or the new one, never a torn or empty one. Nothing is fsynced: cheap, for what can be rebuilt.
 * - `"power-loss"`: the machine going down as well. The new file's data is fsynced before it takes
 *   the name, and the directory after, so once the write resolves the new file is on disk.
 */
export type Durability = "crash" | "power-loss";

/** How `writeAtomic` writes: the file mode and what it must survive. */
export interface WriteAtomicOptions {
  /** Default `"power-loss"`. */
  readonly durability?: Durability;
  /**
   * Create only: fail with an `EEXIST` error, and change nothing, when `file` exists. The new file
   * is hard-linked into place, so two writers racing for one name cannot both win.
   */
  readonly exclusive?: boolean;
  /** The file's permission bits, set exactly (the umask does not apply). Default `0o600`. */
  readonly mode?: number;
}

/**
 * Writes `data` to `file` atomically, under this contract:
 *
 * - The data goes to a temp file in the same directory, `.<name>.<pid>-<8 hex>.tmp`, written whole
 *   (short writes are continued), then renamed over `file` (or, `exclusive`, hard-linked to it).
 *   A rename within one file system is atomic, so any reader, and any process after a SIGKILL of
 *   the writer, sees the old content or the new content, never part of either.
 * - With `durability: "power-loss"` (the default) the temp file is fsynced before the rename and
 *   the directory after it: when the promise resolves, the new content survives power loss. With
 *   `"crash"` nothing is fsynced: the promise says nothing about the disk, and after a power loss
 *   the file may be old, new, or (on some file systems) empty. Use it for what can be rebuilt.
 * - A write that fails removes its temp file and rejects with the file-system error; `file` is
 *   unchanged, except when only the final directory fsync failed (then the new file is in place but
 *   not known to be durable).
 * - A writer killed mid-way can leave its temp file behind; the pid in its name says whose it was,
 *   so a sweeper can remove those of dead processes.
 */
export async function writeAtomic(
  file: string,
  data: string | Uint8Array,
  options: WriteAtomicOptions = {},
): Promise<void> {
  const durable = (options.durability ?? "power-loss") === "power-loss";
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeTemp(temp, typeof data === "string" ? Buffer.from(data) : data, options.mode ?? 0o600, durable);
    if (options.exclusive === true) await link(temp, file);
    else await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  // After a link the temp name is a second name for the file: drop it. (A crash here leaves it for a sweeper.)
  if (options.exclusive === true) await unlink(temp).catch(() => undefined);
  if (durable) await syncDir(dir);
}

async function writeTemp(temp: string, bytes: Uint8Array, mode: number, durable: boolean): Promise<void> {
  const fh = await open(temp, "wx", mode);
  try {
    await fh.chmod(mode);
    await writeAll(fh, bytes);
    if (durable) await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** `write` may write less than asked (a full disk, a signal): go on from where it stopped. */
async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, offset, bytes.length - offset, offset);
    if (bytesWritten <= 0) throw Object.assign(new Error(`short write to ${fh.fd}: no progress`), { code: "EIO" });
    offset += bytesWritten;
  }
}

/** fsyncs a directory, making the names created, renamed or removed in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
