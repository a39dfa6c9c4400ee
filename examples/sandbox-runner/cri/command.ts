// The `serve` command: its flags read, then the server run inside the CLI's open runner (so the
// state dir is locked, and let go, as for every other command). The command table's entry only
// points here.
import { err, ok, type Result } from "neverthrow";
import { UsageError } from "../cli/exit-codes.js";
import type { Flags } from "../cli/options.js";
import type { Runner } from "../runner/index.js";
import { DEFAULT_GRACE_PERIOD_MS, serve } from "./server.js";
import { DEFAULT_LISTEN, socketPath } from "./socket.js";

export interface ServeInput {
  readonly flags: Flags;
  /** A line on stderr. */
  readonly warn: (line: string) => void;
  readonly withRunner: <T>(use: (runner: Runner) => Promise<T>) => Promise<T>;
}

/** `--grace-period SECONDS`: 0 to 3600, decimals allowed; in ms. */
function gracePeriod(value: Flags[keyof Flags]): Result<number, UsageError> {
  if (value === undefined) return ok(DEFAULT_GRACE_PERIOD_MS);
  const seconds = typeof value === "string" && /^\d{1,4}(\.\d{1,3})?$/.test(value) ? Number(value) : NaN;
  if (!(seconds <= 3600))
    return err(new UsageError(`--grace-period must be seconds from 0 to 3600, got ${JSON.stringify(value)}`));
  return ok(Math.round(seconds * 1000));
}

/** Serves until SIGTERM / SIGINT; a bad flag is a usage error, and nothing is opened. */
export async function serveCommand({ flags, warn, withRunner }: ServeInput): Promise<Result<void, UsageError>> {
  const listen = typeof flags.listen === "string" ? flags.listen : DEFAULT_LISTEN;
  const socket = socketPath(listen);
  if (socket.isErr()) return err(new UsageError(socket.error));
  const grace = gracePeriod(flags["grace-period"]);
  if (grace.isErr()) return err(grace.error);
  await withRunner((runner) => serve(runner, { listen, socket: socket.value, gracePeriodMs: grace.value, log: warn }));
  return ok(undefined);
}
