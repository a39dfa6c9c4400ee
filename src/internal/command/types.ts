// The one contract for starting processes: argv arrays (never a shell), a Result instead of a
// rejection, and the same safety from every implementation (output limit, timeout, kill on abort).
import type { ResultAsync } from "neverthrow";

/** A command line as an argv array; there is never a shell in between. */
export type Argv = readonly [string, ...string[]];

/** How a finished command ended. A non-zero exit, or death by a signal, is an outcome, not a failure to run. */
export interface CommandResult {
  /** The exit code, `undefined` when the process was killed by a signal. */
  readonly exitCode: number | undefined;
  /** The signal that killed it (e.g. `"SIGKILL"`), `undefined` when it exited. */
  readonly signal: string | undefined;
  /** Everything it wrote to stdout, verbatim (a final newline is kept); `""` when `detached`. */
  readonly stdout: string;
  /** Everything it wrote to stderr, verbatim; `""` when `detached`. */
  readonly stderr: string;
}

/** Per-call options of {@link CommandRunner.run}; every one is optional. */
export interface RunOptions {
  /** Kills the command when aborted (SIGTERM, then SIGKILL after `killGraceMs`); the run fails with `"aborted"`. */
  readonly signal?: AbortSignal | undefined;
  /** Kills the command (as for `signal`) after this many ms; the run fails with `"timeout"`. */
  readonly timeoutMs?: number | undefined;
  /** Written to the command's stdin, which is then closed; without it stdin is /dev/null. */
  readonly input?: string | undefined;
  /** Variables added to the runner's own environment (`process.env` at the time of the call). */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /**
   * No output pipes: stdout and stderr go to /dev/null and come back `""`. For a command that
   * hands its stdio to a process that outlives it (`runc create`): a pipe would stay open as long
   * as that process lives, and the call would never return. (Not a new session or process group.)
   */
  readonly detached?: boolean | undefined;
  /**
   * The most a command may write to stdout, and separately to stderr, in bytes (default
   * {@link DEFAULT_MAX_OUTPUT_BYTES}). One byte more kills it and the run fails with `"output-limit"`.
   */
  readonly maxOutputBytes?: number | undefined;
  /** How long a command killed by abort, timeout or output limit has after SIGTERM before SIGKILL (default {@link DEFAULT_KILL_GRACE_MS}). */
  readonly killGraceMs?: number | undefined;
  /**
   * The kernel SIGKILLs the command if the process that started it dies first (SIGKILL included),
   * so that no helper outlives a killed caller. It runs as `setpriv --pdeathsig KILL -- argv`
   * (util-linux; one exec more, same PID and outcome). What the command itself starts is not
   * affected (`runc create`'s container lives on). Linux ties this to the thread that started the
   * command: start such commands from the main thread, not a worker that may exit first. A caller
   * killed in the instant between the fork and setpriv's prctl leaves its command running. Default:
   * the runner's (`spawnRunner({ dieWithParent })`), else false.
   */
  readonly dieWithParent?: boolean | undefined;
}

/** A runner's defaults for every command it starts (`run` and `start`); a call's own option wins. */
export interface RunnerDefaults {
  /** {@link RunOptions.dieWithParent} for every command of this runner, `start` included. */
  readonly dieWithParent?: boolean | undefined;
}

/** Why a command produced no {@link CommandResult}. */
export type RunFailureReason =
  /** It never started: a missing binary (ENOENT), no permission (EACCES), an invalid argv. */
  | "spawn"
  /** `signal` was aborted; the command was killed (or never started). */
  | "aborted"
  /** It ran longer than `timeoutMs` and was killed. */
  | "timeout"
  /** It wrote more than `maxOutputBytes` to stdout or stderr and was killed. */
  | "output-limit";

/** A command that produced no result, and why. */
export interface RunFailure {
  readonly reason: RunFailureReason;
  /** One line for a person, naming the program: "runc timed out after 30000 ms". */
  readonly message: string;
  readonly cause: unknown;
}

/** A long-running process written to and read from as it runs (the netns batch driver's `ip -batch`). */
export interface RunningProcess {
  readonly pid: number | undefined;
  /** Writes to stdin; a write to a dead process is dropped (its exit is reported instead). */
  write(data: string): void;
  /** Closes stdin, which ends `ip -batch`. */
  end(): void;
  /** Sends `signal` (default SIGTERM) to the process. */
  kill(signal?: NodeJS.Signals): void;
  /** Called with each decoded chunk of stderr, in order. */
  onStderr(listener: (chunk: string) => void): void;
  /** Called once when the process is gone (or failed to start), with a description of why. */
  onExit(listener: (description: string) => void): void;
  /** Keeps the Node process alive while requests are pending. */
  ref(): void;
  /** Lets the Node process exit while idle. */
  unref(): void;
}

/**
 * Starts processes. `run` never rejects and never throws: every outcome is an ok
 * {@link CommandResult} or an err {@link RunFailure}. Tests substitute a fake that records argv.
 */
export interface CommandRunner {
  /** Runs `argv` to its end; the failures are in the err, never a rejection. */
  run(argv: Argv, options?: RunOptions): ResultAsync<CommandResult, RunFailure>;
  /** Starts a process with stdin and stderr piped, stdout ignored; for a long-running helper such as `ip -batch`. */
  start(argv: Argv): RunningProcess;
}

/** The default output limit per stream: 16 MiB. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** The default time between SIGTERM and SIGKILL for a command being killed: 5 s. */
export const DEFAULT_KILL_GRACE_MS = 5_000;
