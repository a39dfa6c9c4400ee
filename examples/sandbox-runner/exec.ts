// How the sandbox runner starts processes (CNI plugins, runc): argv arrays through
// node:child_process, never a shell. Tests substitute a fake that records argv, env and stdin.
import { spawn } from "node:child_process";

export interface ExecRequest {
  /** argv[0] is the program (a path, or a name looked up on PATH). */
  readonly argv: readonly [string, ...string[]];
  /** Extra environment variables (added to the runner's own environment). */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to stdin; stdin is /dev/null otherwise. */
  readonly input?: string;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /**
   * No stdio at all (stdout/stderr ignored). For `runc create`, whose container inherits runc's
   * stdio: a pipe would stay open as long as the container lives and the call would never return.
   */
  readonly detached?: boolean;
}

/** How a command ended; `exitCode` is undefined when it never started or was killed. */
export interface ExecResult {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the command could not start (ENOENT, EACCES), was aborted or timed out. */
  readonly failure?: string;
}

export type Exec = (request: ExecRequest) => Promise<ExecResult>;

/** After SIGTERM (abort, timeout), SIGKILL if the process is still there this much later. */
const FORCE_KILL_AFTER_MS = 5_000;

const stripFinalNewline = (s: string): string =>
  s.endsWith("\r\n") ? s.slice(0, -2) : s.endsWith("\n") ? s.slice(0, -1) : s;

/**
 * The real runner, on node:child_process. Never rejects: every outcome is an ExecResult.
 * (It replaced execa here: execa costs 2-3 ms more of the runner's CPU per process, and a
 * lifecycle starts about ten; on 2 cores that capped the parallel cycle rate.)
 */
export const spawnExec: Exec = (request) => {
  const [file, ...args] = request.argv;
  const { signal, timeoutMs } = request;
  if (signal?.aborted === true)
    return Promise.resolve({ exitCode: undefined, stdout: "", stderr: "", failure: `${file} was aborted` });
  return new Promise<ExecResult>((resolve) => {
    let stdout = "";
    let stderr = "";
    let ended: "aborted" | "timed-out" | undefined;
    let startError: NodeJS.ErrnoException | undefined;
    const child = spawn(file, args, {
      env: request.env === undefined ? process.env : { ...process.env, ...request.env },
      stdio: [
        request.input === undefined ? "ignore" : "pipe",
        request.detached === true ? "ignore" : "pipe",
        request.detached === true ? "ignore" : "pipe",
      ],
    });
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    let forceKill: NodeJS.Timeout | undefined;
    const terminate = (why: "aborted" | "timed-out") => {
      if (ended !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      ended = why;
      child.kill("SIGTERM");
      forceKill = setTimeout(() => child.kill("SIGKILL"), FORCE_KILL_AFTER_MS);
      forceKill.unref();
    };
    const onAbort = () => terminate("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => terminate("timed-out"), timeoutMs);
    if (request.input !== undefined && child.stdin !== null) {
      // A child that exits without reading its stdin: EPIPE is not our failure, its exit says it all.
      child.stdin.on("error", () => undefined);
      child.stdin.end(request.input);
    }
    child.on("error", (e: NodeJS.ErrnoException) => {
      startError ??= e;
    });
    child.on("close", (code, killedBy) => {
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(timer);
      clearTimeout(forceKill);
      const out = stripFinalNewline(stdout);
      const errText = stripFinalNewline(stderr);
      if (ended === "aborted")
        return resolve({ exitCode: undefined, stdout: out, stderr: errText, failure: `${file} was aborted` });
      if (ended === "timed-out")
        return resolve({
          exitCode: undefined,
          stdout: out,
          stderr: errText,
          failure: `${file} timed out after ${timeoutMs} ms`,
        });
      // A process that never started: `close` still comes, with a negative errno as the code.
      if (startError !== undefined) {
        return resolve({
          exitCode: undefined,
          stdout: out,
          stderr: errText,
          failure: `Command failed with ${startError.code ?? "an error"}: ${request.argv.join(" ")}\n${startError.message}`,
        });
      }
      if (code === null)
        return resolve({
          exitCode: undefined,
          stdout: out,
          stderr: errText,
          failure: killedBy === null ? `${file} did not start` : `${file} was killed by ${killedBy}`,
        });
      resolve({ exitCode: code, stdout: out, stderr: errText });
    });
  });
};

/** The runner's default Exec (the name predates the switch from execa to node:child_process). */
export const execaExec: Exec = spawnExec;
