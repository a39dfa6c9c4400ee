// `stop` and `rm` of several ids, and `rm -a`, as crictl's stopp / rmp: each id in turn, in one
// runner (one lock); a failure is reported and the rest still done, and the first failure is the
// command's (its exit code).
import { err, ok, type Result } from "neverthrow";
import type { Runner } from "../runner/index.js";
import { reportFailure, UsageError, type CliError } from "./exit-codes.js";

/** The ids a `stop` / `rm` names: its arguments, or with `-a` every sandbox (never both, never neither). */
export function idsToRelease(
  command: string,
  args: readonly string[],
  all: boolean,
): Result<(runner: Runner) => Promise<readonly string[]>, UsageError> {
  if (all && args.length > 0) return err(new UsageError(`${command}: give ids or -a (--all), not both`));
  if (!all && args.length === 0)
    return err(new UsageError(`${command} takes one or more ids${command === "rm" ? ", or -a (--all)" : ""}`));
  return ok(async (runner) => (all ? (await runner.list()).map((r) => r.id) : args));
}

/** `release` for each id in turn; a failure is printed at once, and the first is returned. */
export async function eachId<E extends CliError>(
  ids: readonly string[],
  release: (id: string) => Promise<Result<unknown, E>>,
  warn: (line: string) => void,
  done: (id: string) => void,
): Promise<Result<void, E>> {
  let first: E | undefined;
  for (const id of ids) {
    const r = await release(id);
    if (r.isOk()) done(id);
    // The first failure is reported by main, as the command's; later ones here, as they happen.
    else if (first === undefined) first = r.error;
    else reportFailure(r.error, warn);
  }
  return first === undefined ? ok(undefined) : err(first);
}
