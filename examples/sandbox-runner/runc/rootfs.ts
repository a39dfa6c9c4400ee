// One shared read-only rootfs for every pause container: busybox and a `sleep` link to it.
// Built in a temporary dir and renamed into place, so concurrent runners never see half of one.
import { randomBytes } from "node:crypto";
import { access, chmod, copyFile, mkdir, rename, rm, symlink } from "node:fs/promises";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import { RuncError } from "./errors.js";

export const BUSYBOX = "/usr/bin/busybox";
const DIRS = ["bin", "proc", "dev", "sys", "tmp", "etc", "run"];

export async function ensureRootfs(dir: string, busybox = BUSYBOX): Promise<Result<string, RuncError>> {
  try {
    await access(path.join(dir, "bin", "sleep"));
    return ok(dir);
  } catch {
    // Not there yet: build it.
  }
  const tmp = `${dir}.tmp-${randomBytes(4).toString("hex")}`;
  try {
    for (const d of DIRS) await mkdir(path.join(tmp, d), { recursive: true, mode: 0o755 });
    await copyFile(busybox, path.join(tmp, "bin", "busybox"));
    await chmod(path.join(tmp, "bin", "busybox"), 0o755);
    await symlink("busybox", path.join(tmp, "bin", "sleep"));
    await symlink("busybox", path.join(tmp, "bin", "sh"));
    try {
      await rename(tmp, dir);
    } catch (e) {
      // Another runner finished first: theirs is as good as ours.
      if (!["ENOTEMPTY", "EEXIST"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
      await rm(tmp, { recursive: true, force: true });
    }
    return ok(dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    return err(new RuncError({ operation: "rootfs", reason: `cannot build the pause rootfs in ${dir} (is busybox-static installed?): ${(e as Error).message}`, cause: e }));
  }
}
