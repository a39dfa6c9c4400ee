// The journal directory must be ours alone: a symlink could point anywhere, and a directory
// others can write to lets them plant records that `recover` would act on.
import { lstat, mkdir } from "node:fs/promises";
import path from "node:path";
import { JournalError } from "./errors.js";

/** Creates `dir` (0700) if missing; refuses a symlink, a non-directory, group/world-writable or foreign. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  if (typeof dir !== "string" || !path.isAbsolute(dir) || dir.includes("\0")) {
    throw new JournalError("invalid", `journal directory must be an absolute path, got ${JSON.stringify(dir)}`, {
      path: String(dir),
    });
  }
  let st = await lstat(dir).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(e)));
  if (st === undefined) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    st = await lstat(dir);
  }
  if (st.isSymbolicLink()) {
    throw new JournalError("unsafe-dir", `journal directory ${dir} is a symlink; refusing to use it`, { path: dir });
  }
  if (!st.isDirectory())
    throw new JournalError("unsafe-dir", `journal directory ${dir} is not a directory`, { path: dir });
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    throw new JournalError(
      "unsafe-dir",
      `journal directory ${dir} is group- or world-writable (mode ${mode}); refusing to use it`,
      {
        path: dir,
      },
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new JournalError(
      "unsafe-dir",
      `journal directory ${dir} is owned by uid ${st.uid}, not by this process (uid ${uid})`,
      {
        path: dir,
      },
    );
  }
}
