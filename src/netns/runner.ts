// The command runner: every process netns starts goes through this interface, argv arrays only.
import type { Readable, Writable } from "node:stream";
import type { Socket } from "node:net";
import { execa } from "execa";
import { err, ok, ResultAsync, type Result } from "neverthrow";

/** A command line as an argv array; there is never a shell in between. */
export type Argv = readonly [string, ...string[]];

/** How a finished command ended. A non-zero exit is an outcome, not a failure to run. */
export interface CommandResult {
  /** The exit code, `undefined` when the process was killed by a signal. */
  readonly exitCode: number | undefined;
  /** The signal that killed it, `undefined` when it exited. */
  readonly signal: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Kills the command (SIGTERM) when aborted. */
  readonly signal?: AbortSignal | undefined;
  /** Kills the command after this many ms. */
  readonly timeoutMs?: number | undefined;
  /** Written to the command's stdin. */
  readonly input?: string | undefined;
}

/** Why a command produced no result. */
export interface RunFailure {
  readonly reason: "spawn" | "aborted" | "timeout";
  readonly message: string;
  readonly cause: unknown;
}

/** A long-running process the batch driver writes requests to and reads answers from. */
export interface RunningProcess {
  readonly pid: number | undefined;
  /** Writes to stdin; a write to a dead process is dropped (its exit is reported instead). */
  write(data: string): void;
  /** Closes stdin, which ends `ip -batch`. */
  end(): void;
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

/** Starts processes for netns; tests substitute a fake that records argv. */
export interface CommandRunner {
  run(argv: Argv, options?: RunOptions): ResultAsync<CommandResult, RunFailure>;
  start(argv: Argv): RunningProcess;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** The real runner, over execa. */
export function execaRunner(): CommandRunner {
  return {
    run(argv, options = {}) {
      const [file, ...args] = argv;
      return ResultAsync.fromSafePromise(
        execa(file, args, {
          reject: false,
          stripFinalNewline: false,
          ...(options.input === undefined ? { stdin: "ignore" as const } : { input: options.input }),
          ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
          ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
        }),
      ).andThen((result): Result<CommandResult, RunFailure> => {
        if (result.isCanceled) {
          return err({ reason: "aborted", message: `${file} was aborted`, cause: result.cause ?? result });
        }
        if (result.timedOut) {
          return err({ reason: "timeout", message: `${file} timed out after ${options.timeoutMs} ms`, cause: result });
        }
        if (result.exitCode === undefined && result.signal === undefined) {
          // Neither exited nor killed: it never started (ENOENT, EACCES).
          return err({
            reason: "spawn",
            message: `could not start ${file}: ${result.shortMessage}`,
            cause: result.cause ?? result,
          });
        }
        return ok({
          exitCode: result.exitCode,
          signal: result.signal,
          stdout: text(result.stdout),
          stderr: text(result.stderr),
        });
      });
    },

    start(argv) {
      const [file, ...args] = argv;
      const child = execa(file, args, {
        reject: false,
        buffer: false,
        stdin: "pipe",
        stdout: "ignore",
        stderr: "pipe",
      });
      // Pipes hold their own handles: ref/unref must reach them as well as the child.
      const handles = [child.stdin, child.stderr] as unknown as (Socket | null)[];
      const stdin = child.stdin as Writable | null;
      const stderr = child.stderr as Readable | null;
      let exitListener: ((description: string) => void) | undefined;
      let exitDescription: string | undefined;
      stdin?.on("error", () => {
        // EPIPE after the process died: its exit is what gets reported.
      });
      stderr?.setEncoding("utf8");
      void child.then((result) => {
        exitDescription =
          result.exitCode === undefined && result.signal === undefined
            ? `could not start ${file}: ${result.shortMessage}`
            : result.signal === undefined
              ? `${file} exited with code ${result.exitCode}`
              : `${file} was killed by ${result.signal}`;
        exitListener?.(exitDescription);
      });
      return {
        pid: child.pid,
        write(data) {
          if (stdin !== null && stdin.writable) stdin.write(data);
        },
        end() {
          stdin?.end();
        },
        kill(signal) {
          child.kill(signal);
        },
        onStderr(listener) {
          stderr?.on("data", listener);
        },
        onExit(listener) {
          exitListener = listener;
          if (exitDescription !== undefined) listener(exitDescription);
        },
        ref() {
          child.ref();
          for (const h of handles) h?.ref?.();
        },
        unref() {
          child.unref();
          for (const h of handles) h?.unref?.();
        },
      };
    },
  };
}
