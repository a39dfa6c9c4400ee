// The directory must be ours alone: a symlink could point anywhere, and a directory
// others can write to lets them plant records that `recover` would act on.
import { lstat, mkdir } from "node:fs/promises";
import path from "node:path";
import { brand } from "./brand.js";

const privateDirErrorBrand = brand("PrivateDirError");

/** A directory that cannot be trusted with state others must not plant or read. */
export class PrivateDirError extends Error {
  override readonly name = "PrivateDirError";
  /** `invalid-argument`: not an absolute path; `unsafe-dir`: a symlink, a file, writable by others or theirs. */
  readonly code: "invalid-argument" | "unsafe-dir";
  /** The directory concerned. */
  readonly path: string;

  constructor(code: PrivateDirError["code"], message: string, path: string) {
    super(message);
    this.code = code;
    this.path = path;
    privateDirErrorBrand.mark(this);
  }
}

/** Whether `value` is a PrivateDirError, also across copies of this module. */
export function isPrivateDirError(value: unknown): value is PrivateDirError {
  return privateDirErrorBrand.is(value);
}

/** Creates `dir` (0700) if missing; refuses a symlink, a non-directory, group/world-writable or foreign. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  if (typeof dir !== "string" || !path.isAbsolute(dir) || dir.includes("\0")) {
    throw new PrivateDirError(
      "invalid-argument",
      `directory must be an absolute path, got ${JSON.stringify(dir)}`,
      String(dir),
    );
  }
  let st = await lstat(dir).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(e)));
  if (st === undefined) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    st = await lstat(dir);
  }
  if (st.isSymbolicLink()) {
    throw new PrivateDirError("unsafe-dir", `directory ${dir} is a symlink; refusing to use it`, dir);
  }
  if (!st.isDirectory()) throw new PrivateDirError("unsafe-dir", `directory ${dir} is not a directory`, dir);
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    throw new PrivateDirError(
      "unsafe-dir",
      `directory ${dir} is group- or world-writable (mode ${mode}); refusing to use it`,
      dir,
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new PrivateDirError(
      "unsafe-dir",
      `directory ${dir} is owned by uid ${st.uid}, not by this process (uid ${uid})`,
      dir,
    );
  }
}
