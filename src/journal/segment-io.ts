// The byte-level side of a segment: writes that are whole or fail (a short write is continued, a
// write making no progress is an error), and the compaction copy, written whole, fsynced and read
// back before it may replace the segment.
import { open, unlink, type FileHandle } from "node:fs/promises";

/** What a write goes to: the segment itself, or compaction's copy of its live records. */
export type WriteTarget = "segment" | "copy";

/**
 * Test hook (storage fault injection), called before each write system call with the bytes still
 * to write: throwing fails the write; returning a number `n` lets only the first `n` of them through
 * (a short write, as a nearly full disk does), and the rest is asked for again.
 */
export type BeforeWrite = (bytes: number, target: WriteTarget) => number | void;

function shortWrite(written: number, total: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`short write: ${written} of ${total} bytes written, then no progress`), {
    code: "EIO",
  });
}

/** Appends all of `bytes` at the end of `fh` (opened for appending), or throws. */
export async function writeWhole(
  fh: FileHandle,
  bytes: Uint8Array,
  target: WriteTarget,
  beforeWrite: BeforeWrite | undefined,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const rest = bytes.length - offset;
    const allowed = beforeWrite?.(rest, target);
    const length = typeof allowed === "number" ? Math.max(0, Math.min(rest, Math.floor(allowed))) : rest;
    const { bytesWritten } = length === 0 ? { bytesWritten: 0 } : await fh.write(bytes, offset, length, null);
    if (bytesWritten <= 0) throw shortWrite(offset, bytes.length);
    offset += bytesWritten;
  }
}

/** Reads the whole of `fh` back and checks it is exactly `bytes`. */
async function verify(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  const { size } = await fh.stat();
  const back = Buffer.alloc(size);
  for (let at = 0; at < size;) {
    const { bytesRead } = await fh.read(back, at, size - at, at);
    if (bytesRead <= 0) break;
    at += bytesRead;
  }
  if (size !== bytes.length || !back.equals(bytes)) {
    throw Object.assign(
      new Error(`the copy reads back as ${size} bytes that differ from the ${bytes.length} written`),
      {
        code: "EIO",
      },
    );
  }
}

/**
 * Writes `bytes` to a new file `tmp` (0600, opened for appending), fsyncs it and reads it back.
 * Resolves to its handle, ready to take the segment's name; on any failure the file is removed.
 */
export async function writeVerifiedCopy(
  tmp: string,
  bytes: Uint8Array,
  beforeWrite: BeforeWrite | undefined,
): Promise<FileHandle> {
  // A copy left by an earlier failure of this same journal (the name is its segment's).
  await unlink(tmp).catch(() => undefined);
  const fh = await open(tmp, "ax+", 0o600);
  try {
    await writeWhole(fh, bytes, "copy", beforeWrite);
    await fh.datasync();
    await verify(fh, bytes);
    return fh;
  } catch (error) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
}
