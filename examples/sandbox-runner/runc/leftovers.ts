// What a `runc create` (or `runc run --detach`) killed part-way leaves behind, and its removal. runc 1.1 makes the
// container's state dir (with only exec.fifo) and its cgroups before it writes state.json; killed in
// between (by its timeout, the OOM killer, or with the runner), it leaves both, and runc, which
// knows a container only by its state.json, says it does not exist: `runc delete` removes neither.
import { existsSync } from "node:fs";
import { readdir, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import { RuncError } from "./errors.js";
import { cgroupsPathProblem, containerIdProblem } from "./validate.js";

const CGROUP_ROOT = "/sys/fs/cgroup";

/** Where the cgroup `cgroupsPath` would be: under the unified root (v2), or under each hierarchy (v1). */
async function cgroupDirs(cgroupsPath: string): Promise<string[]> {
  if (existsSync(path.join(CGROUP_ROOT, "cgroup.controllers"))) return [path.join(CGROUP_ROOT, cgroupsPath)];
  const hierarchies = await readdir(CGROUP_ROOT).catch(() => [] as string[]);
  return hierarchies.map((h) => path.join(CGROUP_ROOT, h, cgroupsPath));
}

/**
 * Removes what a `runc create` of `id` that never finished left: its state dir under `root` when it
 * has no state.json, and the cgroups at `cgroupsPath` when they are empty. Call it once runc says
 * the container does not exist. A cgroup that still has processes is an error (nothing is killed).
 */
export async function removeCreateLeftovers(
  root: string,
  id: string,
  cgroupsPath: string,
): Promise<Result<void, RuncError>> {
  const bad = containerIdProblem(id) ?? cgroupsPathProblem(cgroupsPath);
  if (bad !== undefined) return err(new RuncError({ operation: "delete", id, reason: bad }));
  const dir = path.join(root, id);
  if (!existsSync(path.join(dir, "state.json"))) await rm(dir, { recursive: true, force: true });
  for (const cgroup of await cgroupDirs(cgroupsPath)) {
    try {
      await rmdir(cgroup);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Not there (the usual case), or a hierarchy entry that is not a dir.
      if (code === "ENOENT" || code === "ENOTDIR") continue;
      const reason = `a runc create that did not finish left the cgroup ${cgroup}, which could not be removed (${code ?? String(e)})`;
      return err(new RuncError({ operation: "delete", id, reason, cause: e }));
    }
  }
  return ok(undefined);
}
