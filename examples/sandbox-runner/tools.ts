// The tools the runner starts by name (runc; ip, mount, umount and unshare through errdefer/netns),
// each resolved once to an absolute path on PATH and checked as the CNI plugins are
// (trusted-path.ts): a tool planted in a directory others can write is refused, never run.
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { errAsync } from "neverthrow";
import type { CommandRunner } from "errdefer/host";
import { untrustedProblem } from "./trusted-path.js";

/** The programs the runner starts by name. */
export const TOOLS: readonly string[] = ["runc", "ip", "mount", "umount", "unshare"];

type Resolved = { readonly file: string } | { readonly problem: string };

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `name`'s absolute path (the first on PATH's absolute dirs), or why it may not be run. */
function resolveTool(name: string): Resolved {
  const dirs = (process.env.PATH ?? "").split(":").filter((d) => path.isAbsolute(d));
  const file = dirs.map((d) => path.join(d, name)).find(executable);
  // Not found: spawning the bare name fails as it always did (ENOENT).
  if (file === undefined) return { file: name };
  const problem = untrustedProblem(file, "file", `tool ${name}`);
  return problem === undefined ? { file } : { problem };
}

/**
 * `inner`, with a bare TOOLS name in argv[0] replaced by its checked absolute path (resolved on
 * first use, then kept). An untrusted tool fails to spawn (run) or throws (start), naming it.
 */
export function trustedToolsRunner(inner: CommandRunner): CommandRunner {
  const resolved = new Map<string, Resolved>();
  const tool = (name: string): Resolved => {
    let found = resolved.get(name);
    if (found === undefined) resolved.set(name, (found = resolveTool(name)));
    return found;
  };
  const rewrite = (argv: readonly string[]): Resolved & { args: readonly string[] } => {
    const [name = "", ...args] = argv;
    return TOOLS.includes(name) ? { ...tool(name), args } : { file: name, args };
  };
  return {
    run(argv, options) {
      const r = rewrite(argv);
      if ("problem" in r) return errAsync({ reason: "spawn", message: r.problem, cause: undefined });
      return inner.run([r.file, ...r.args], options);
    },
    start(argv) {
      const r = rewrite(argv);
      if ("problem" in r) throw new Error(r.problem);
      return inner.start([r.file, ...r.args]);
    },
  };
}
