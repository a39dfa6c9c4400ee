// Mount facts: whether a path is a live namespace mount, and readying a custom dir's propagation.
import { readFile, statfs } from "node:fs/promises";
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
