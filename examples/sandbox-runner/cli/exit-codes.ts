// How the CLI ends: every error code maps to one exit code (0 ok, 1 the operation failed, 2 bad
// usage or config: nothing was created, 3 `rm --force` removed the sandbox but left something
// unreleased, 130 / 143 a run stopped by Ctrl-C / SIGTERM), printed on stderr with a hint where one helps.
import { describeError } from "errdefer";
import { RunnerError, type RunnerErrorCode } from "../runner/index.js";

/** A command line that cannot be run as given: exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code = "usage";
}

/** The signals that stop a `run` (cli/interrupt.ts). */
export type Interruption = "SIGINT" | "SIGTERM";

/** A `run` stopped by Ctrl-C (SIGINT) or SIGTERM, and rolled back: exit 130 / 143. */
export class InterruptedError extends Error {
  override readonly name = "InterruptedError";
  readonly code: "interrupted" | "terminated";

  constructor(
    readonly signal: Interruption,
    options?: ErrorOptions,
  ) {
    super(`interrupted by ${signal}`, options);
    this.code = signal === "SIGINT" ? "interrupted" : "terminated";
  }
}

/** Every error a command returns. */
export type CliError = UsageError | RunnerError | InterruptedError;

interface ExitRow {
  readonly exit: 1 | 2 | 3 | 130 | 143;
  /** Printed under the message: what the user can do about it. */
  readonly hint?: string;
}

/** The one table from error codes to exit codes. */
export const EXIT_CODES = {
  usage: { exit: 2, hint: "see sandbox-runner --help" },
  "invalid-config": { exit: 2 },
  // An id prefix more than one sandbox starts with: a usage error, the same from every command.
  "ambiguous-id": { exit: 2, hint: "give more of the id" },
  // `inspect` of an unknown id (`stop` and `rm` of one succeed, as in CRI).
  "not-found": { exit: 1 },
  "operation-failed": { exit: 1 },
  // rm --force removed the sandbox and its record, but what is named was not released.
  abandoned: { exit: 3, hint: "the sandbox is gone; release what is named by hand" },
  // A run stopped by a signal: 128 + its number, as a shell reports it.
  interrupted: { exit: 130 },
  terminated: { exit: 143 },
} as const satisfies Record<CliError["code"], ExitRow>;

/** Anything else that was thrown (an unsafe state dir, a lock held too long, I/O): it failed. */
const OTHER: ExitRow = EXIT_CODES["operation-failed"];

function rowOf(error: unknown): ExitRow {
  if (error instanceof UsageError) return EXIT_CODES.usage;
  if (error instanceof InterruptedError) return EXIT_CODES[error.code];
  if (error instanceof RunnerError) return EXIT_CODES[error.code satisfies RunnerErrorCode];
  return OTHER;
}

/** Prints `error` for the user (never a stack) and returns its exit code. */
export function reportFailure(error: unknown, write: (line: string) => void): number {
  const row = rowOf(error);
  write(`sandbox-runner: ${describeError(error)}`);
  if (row.hint !== undefined) write(`(${row.hint})`);
  return row.exit;
}
