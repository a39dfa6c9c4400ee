// How the sandbox runner starts processes (CNI plugins, runc): argv arrays through execa, never a
// shell. Tests substitute a fake that records argv, env and stdin.
import { execa } from "execa";

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

/** The real runner. Never rejects: every outcome is an ExecResult. */
export const execaExec: Exec = async (request) => {
  const [file, ...args] = request.argv;
  const result = await execa(file, args, {
    reject: false,
    env: request.env ?? {},
    extendEnv: true,
    ...(request.input === undefined ? { stdin: "ignore" as const } : { input: request.input }),
    ...(request.detached === true ? { stdout: "ignore" as const, stderr: "ignore" as const } : {}),
    ...(request.signal === undefined ? {} : { cancelSignal: request.signal }),
    ...(request.timeoutMs === undefined ? {} : { timeout: request.timeoutMs }),
  });
  const stdout = typeof result.stdout === "string" ? result.stdout : "";
  const stderr = typeof result.stderr === "string" ? result.stderr : "";
  if (result.isCanceled) return { exitCode: undefined, stdout, stderr, failure: `${file} was aborted` };
  if (result.timedOut) return { exitCode: undefined, stdout, stderr, failure: `${file} timed out after ${request.timeoutMs} ms` };
  if (result.exitCode === undefined) {
    const failure = result.signal === undefined ? (result.shortMessage ?? `${file} did not start`) : `${file} was killed by ${result.signal}`;
    return { exitCode: undefined, stdout, stderr, failure };
  }
  return { exitCode: result.exitCode, stdout, stderr };
};
