// What both runners share: checking a call before anything starts, and the words for each way a
// command can fail, so that the two implementations fail alike.
import { err, ok, type Result } from "neverthrow";
import { dieWithParentArgv } from "./parent-death.js";
import {
  DEFAULT_KILL_GRACE_MS,
  DEFAULT_MAX_OUTPUT_BYTES,
  type Argv,
  type RunFailure,
  type RunnerDefaults,
  type RunOptions,
} from "./types.js";

/** A call checked and with its defaults filled in. */
export interface RunPlan {
  /** The program as the caller named it (argv[0]): what messages name. */
  readonly file: string;
  /** What is spawned: `file`, or setpriv when the command is to die with its parent. */
  readonly spawnFile: string;
  readonly spawnArgs: readonly string[];
  readonly timeoutMs: number | undefined;
  readonly maxOutputBytes: number;
  readonly killGraceMs: number;
}

/** Why `argv` cannot be run, or undefined. Node's spawn would throw on some of these. */
export function argvProblem(argv: unknown): string | undefined {
  if (!Array.isArray(argv) || argv.length === 0) return "argv must be a non-empty array of strings";
  const i = argv.findIndex((a) => typeof a !== "string" || a.includes("\0"));
  if (i >= 0) return `argv[${i}] must be a string without NUL bytes`;
  if (argv[0] === "") return "argv[0] must not be empty";
  return undefined;
}

function optionProblem(options: RunOptions): string | undefined {
  const { timeoutMs, maxOutputBytes, killGraceMs, env } = options;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0))
    return `timeoutMs must be a positive number, not ${String(timeoutMs)}`;
  if (maxOutputBytes !== undefined && !(Number.isSafeInteger(maxOutputBytes) && maxOutputBytes > 0))
    return `maxOutputBytes must be a positive integer, not ${String(maxOutputBytes)}`;
  if (killGraceMs !== undefined && !(Number.isFinite(killGraceMs) && killGraceMs >= 0))
    return `killGraceMs must be a number >= 0, not ${String(killGraceMs)}`;
  const badEnv = Object.entries(env ?? {}).find(([k, v]) => typeof v !== "string" || k.includes("=") || k === "");
  if (badEnv !== undefined) return `env ${JSON.stringify(badEnv[0])} must be a name without "=" and a string value`;
  return undefined;
}

/**
 * Checks a call and fills in the defaults (the call's options over the runner's); an err is a
 * `"spawn"` failure (nothing was started).
 */
export function planRun(argv: Argv, options: RunOptions, defaults: RunnerDefaults = {}): Result<RunPlan, RunFailure> {
  const problem = argvProblem(argv) ?? optionProblem(options);
  const file = typeof argv?.[0] === "string" && argv[0] !== "" ? argv[0] : "command";
  if (problem !== undefined)
    return err({ reason: "spawn", message: `could not start ${file}: ${problem}`, cause: problem });
  const args = argv.slice(1);
  let spawned = { file, args };
  if (options.dieWithParent ?? defaults.dieWithParent ?? false) {
    const wrapped = dieWithParentArgv(file, args, childEnv(options));
    if (wrapped.isErr()) return err(spawnFailure(file, wrapped.error));
    spawned = { file: wrapped.value.file, args: [...wrapped.value.args] };
  }
  return ok({
    file,
    spawnFile: spawned.file,
    spawnArgs: spawned.args,
    timeoutMs: options.timeoutMs === undefined ? undefined : Math.ceil(options.timeoutMs),
    maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    killGraceMs: Math.ceil(options.killGraceMs ?? DEFAULT_KILL_GRACE_MS),
  });
}

/** The child's environment: ours plus the call's additions. */
export function childEnv(options: RunOptions): NodeJS.ProcessEnv {
  return options.env === undefined ? process.env : { ...process.env, ...options.env };
}

export function spawnFailure(file: string, cause: unknown): RunFailure {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return { reason: "spawn", message: `could not start ${file}: ${detail}`, cause };
}

export function abortedFailure(file: string, signal: AbortSignal | undefined): RunFailure {
  return { reason: "aborted", message: `${file} was aborted`, cause: signal?.reason };
}

export function timeoutFailure(file: string, timeoutMs: number | undefined): RunFailure {
  return { reason: "timeout", message: `${file} timed out after ${timeoutMs} ms`, cause: undefined };
}

export function outputLimitFailure(file: string, stream: "stdout" | "stderr", limit: number): RunFailure {
  return {
    reason: "output-limit",
    message: `${file} wrote more than ${limit} bytes to ${stream} and was killed`,
    cause: { stream, limit },
  };
}

/** How a started process ended, for {@link RunningProcess.onExit}. */
export function exitDescription(file: string, exitCode: number | null, signal: string | null): string {
  return signal !== null ? `${file} was killed by ${signal}` : `${file} exited with code ${exitCode}`;
}
