// One rootfs shared read-only by every pause container: busybox plus the dirs runc mounts onto.
// Built in a temporary sibling dir and renamed into place, so that a concurrent runner (or one
// killed half-way) never leaves or sees half a rootfs: the rename is atomic, and a loser's rename
// fails with ENOTEMPTY because the winner's dir is already there.
import { randomBytes } from "node:crypto";
import { access, chmod, copyFile, mkdir, rename, rm, symlink } from "node:fs/promises";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import { RuncError } from "./errors.js";
import { absolutePathProblem } from "./validate.js";

export const BUSYBOX = "/usr/bin/busybox";

/** Mount points runc needs (proc, dev, sys, ...) and dirs busybox tools expect. */
const DIRS = ["bin", "dev", "etc", "proc", "run", "sys", "tmp"];
/** Busybox applets linked by name: sleep is the pause process; sh is for `runc exec` by hand. */
const APPLETS = ["sleep", "sh"];

async function complete(dir: string): Promise<boolean> {
  try {
    await access(path.join(dir, "bin", "sleep")); // follows the link: busybox is there too
    return true;
  } catch {
    return false;
  }
}

/** Makes sure `dir` holds the pause rootfs; returns `dir`. Safe to call concurrently. */
export async function ensureRootfs(dir: string, busybox: string = BUSYBOX): Promise<Result<string, RuncError>> {
  const fail = (reason: string, cause?: unknown) =>
    err(new RuncError({ operation: "rootfs", subject: dir, reason, ...(cause === undefined ? {} : { cause }) }));
  const bad = absolutePathProblem("the rootfs dir", dir) ?? absolutePathProblem("busybox", busybox);
  if (bad !== undefined) return fail(bad);
  if (await complete(dir)) return ok(dir);

  const tmp = `${dir}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    for (const d of DIRS) await mkdir(path.join(tmp, d), { recursive: true });
    for (const d of ["", ...DIRS]) await chmod(path.join(tmp, d), 0o755); // whatever the umask
    await copyFile(busybox, path.join(tmp, "bin", "busybox"));
    await chmod(path.join(tmp, "bin", "busybox"), 0o755);
    for (const applet of APPLETS) await symlink("busybox", path.join(tmp, "bin", applet));
    try {
      await rename(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
      // Someone else's rename won. Theirs is complete unless the dir is something else entirely.
      await rm(tmp, { recursive: true, force: true });
      if (!(await complete(dir))) return fail("the dir exists and is not a pause rootfs (no bin/sleep): remove it");
    }
    return ok(dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT" && (e as NodeJS.ErrnoException).path === busybox;
    return fail(
      missing ? `${busybox} does not exist (Debian: apt-get install busybox-static)` : (e as Error).message,
      e,
    );
  }
}
