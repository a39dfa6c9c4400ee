// A fake Exec standing in for runc in unit tests: records every request and answers per
// subcommand (the first argv word after runc's global flags).
import type { Exec, ExecRequest, ExecResult } from "../../../examples/sandbox-runner/exec.js";

export type RuncAnswer = (request: ExecRequest, args: readonly string[]) => ExecResult | Promise<ExecResult>;

/** Global flags that take a value, so that the subcommand can be found after them. */
const withValue = new Set(["--root", "--log", "--log-format"]);

/** The subcommand and its arguments. */
export function subcommand(argv: readonly string[]): readonly string[] {
  let i = 1;
  while (i < argv.length && argv[i]!.startsWith("--")) i += withValue.has(argv[i]!) ? 2 : 1;
  return argv.slice(i);
}

export function fakeRunc(answers: Record<string, RuncAnswer> = {}): { exec: Exec; requests: ExecRequest[] } {
  const requests: ExecRequest[] = [];
  const exec: Exec = async (request) => {
    requests.push(request);
    const args = subcommand(request.argv);
    const answer = answers[args[0] ?? ""];
    return answer === undefined ? { exitCode: 0, stdout: "", stderr: "" } : answer(request, args);
  };
  return { exec, requests };
}

/** What runc 1.1 prints for an error with `--log-format json`. */
export function runcError(msg: string, exitCode = 1): ExecResult {
  return { exitCode, stdout: "", stderr: `${JSON.stringify({ level: "error", msg, time: "2026-01-01T00:00:00Z" })}\n` };
}

export function stateJson(status: string, pid: number, bundle = "/b"): ExecResult {
  return {
    exitCode: 0,
    stdout: JSON.stringify({
      ociVersion: "1.0.2-dev",
      id: "x",
      pid,
      status,
      bundle,
      rootfs: "/r",
      created: "2026-01-01T00:00:00Z",
      owner: "",
    }),
    stderr: "",
  };
}
