// Mount facts: whether a path is a live namespace mount, and readying a custom dir's propagation.
import { readFile, statfs } from "node:fs/promises";
import path from "node:path";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import type { CommandRunner } from "../internal/command/types.js";

/** statfs f_type of nsfs, the file system of namespace files. */
const NSFS_MAGIC = 0x6e736673;

/** What a mount-point path is right now; only stats, so asking has no side effects. */
export type MountState = "mounted" | "unmounted" | "missing";

/** Whether `path` is an nsfs mount ("mounted"), a plain file ("unmounted") or absent ("missing"). */
export function mountState(path: string): ResultAsync<MountState, NodeJS.ErrnoException> {
  return ResultAsync.fromPromise(statfs(path), (e) => e as NodeJS.ErrnoException)
    .map((s): MountState => (s.type === NSFS_MAGIC ? "mounted" : "unmounted"))
    .orElse((e): Result<MountState, NodeJS.ErrnoException> => (e.code === "ENOENT" ? ok("missing") : err(e)));
}

/** mountinfo escapes blanks and backslashes in paths as octal. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The propagation of the mount whose mount point is exactly `dir` (the last one wins), if any. */
export async function dirPropagation(dir: string): Promise<"shared" | "other" | "none"> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  let found: "shared" | "other" | "none" = "none";
  for (const line of info.split("\n")) {
    const fields = line.split(" ");
    if (fields[4] === undefined || unescapeMountPath(fields[4]) !== dir) continue;
    const separator = fields.indexOf("-");
    const optional = fields.slice(6, separator < 0 ? undefined : separator);
    found = optional.some((f) => f.startsWith("shared:")) ? "shared" : "other";
  }
  return found;
}

export type PrepareFailure =
  | { readonly kind: "io"; readonly cause: unknown }
  | {
      readonly kind: "command";
      readonly argv: readonly string[];
      readonly exitCode: number | undefined;
      readonly stderr: string;
      readonly message: string;
    };

/**
 * Makes `dir` a shared mount of itself, as `ip netns add` does for /var/run/netns: namespace
 * mounts under it then propagate to the copies other mount namespaces took, so unmounting here
 * unmounts there too and nothing else pins the namespace or makes the unlink fail with EBUSY.
 */
export function makeSharedMountDir(dir: string, runner: CommandRunner): ResultAsync<void, PrepareFailure> {
  const mount = (args: readonly [string, ...string[]]) => {
    const argv = ["mount", ...args] as const;
    return runner
      .run(argv)
      .mapErr((f): PrepareFailure => ({ kind: "command", argv, exitCode: undefined, stderr: "", message: f.message }))
      .andThen((r): Result<void, PrepareFailure> =>
        r.exitCode === 0
          ? ok(undefined)
          : err({ kind: "command", argv, exitCode: r.exitCode, stderr: r.stderr.trim(), message: r.stderr.trim() }),
      );
  };
  return ResultAsync.fromPromise(dirPropagation(dir), (cause): PrepareFailure => ({ kind: "io", cause })).andThen(
    (state): ResultAsync<void, PrepareFailure> => {
      if (state === "shared") return ResultAsync.fromSafePromise(Promise.resolve());
      const bind = state === "none" ? mount(["--bind", dir, dir]) : ResultAsync.fromSafePromise(Promise.resolve());
      return bind.andThen(() => mount(["--make-shared", dir]));
    },
  );
}

interface MountEntry {
  readonly id: string;
  readonly parent: string;
  readonly device: string;
  /** The mounted path within its file system. */
  readonly root: string;
  readonly mountPoint: string;
}

function mountEntries(info: string): MountEntry[] {
  return info
    .split("\n")
    .map((line) => line.split(" "))
    .filter((f) => f.length > 4)
    .map((f) => ({
      id: f[0]!,
      parent: f[1]!,
      device: f[2]!,
      root: unescapeMountPath(f[3]!),
      mountPoint: unescapeMountPath(f[4]!),
    }));
}

/**
 * Whether the top mount at `dir` is `dir` bound onto itself (what makeSharedMountDir makes): the
 * file system and the path of the mount under it. Any other mount there is someone else's.
 */
function isSelfBind(entries: readonly MountEntry[], dir: string): boolean {
  const top = entries.filter((e) => e.mountPoint === dir).at(-1);
  const under = top === undefined ? undefined : entries.find((e) => e.id === top.parent);
  if (top === undefined || under === undefined || under.device !== top.device) return false;
  return top.root === path.join(under.root, path.relative(under.mountPoint, dir));
}

/**
 * Once no namespace is mounted under a custom dir any more, unmounts the bind of the dir onto
 * itself that makeSharedMountDir made, so that a mount does not leak per dir. Best effort: a mount
 * there that is not such a bind is left alone, and a creation that has mounted a namespace under
 * it meanwhile makes the (non-lazy) umount fail with EBUSY, which leaves it in place.
 */
export async function unbindIdleDir(dir: string, runner: CommandRunner): Promise<void> {
  // Binds an earlier version left stacked are taken off too (each is one layer).
  for (let layer = 0; layer < 8; layer++) {
    const entries = mountEntries(await readFile("/proc/self/mountinfo", "utf8").catch(() => ""));
    if (entries.some((e) => e.mountPoint.startsWith(`${dir}/`)) || !isSelfBind(entries, dir)) return;
    const run = await runner.run(["umount", dir]);
    if (run.isErr() || run.value.exitCode !== 0) return;
  }
}
