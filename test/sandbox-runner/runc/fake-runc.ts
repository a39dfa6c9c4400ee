// A fake CommandRunner standing in for runc in unit tests: records every request and answers per
// subcommand (the first argv word after runc's global flags).
import type { Argv, CommandResult, CommandRunner, RunOptions } from "errdefer/host";
import { fakeRun, type FakeAnswer } from "../../support/fake-runner.js";

export { runFailure } from "../../support/fake-runner.js";

/** What `run` was given: the argv and the options, side by side. */
export type FakeRequest = RunOptions & { readonly argv: Argv };

export type RuncAnswer = (request: FakeRequest, args: readonly string[]) => FakeAnswer | Promise<FakeAnswer>;

/** Global flags that take a value, so that the subcommand can be found after them. */
const withValue = new Set(["--root", "--log", "--log-format"]);

/** The subcommand and its arguments. */
export function subcommand(argv: readonly string[]): readonly string[] {
  let i = 1;
  while (i < argv.length && argv[i]!.startsWith("--")) i += withValue.has(argv[i]!) ? 2 : 1;
  return argv.slice(i);
}

export function fakeRunc(answers: Record<string, RuncAnswer> = {}): { exec: CommandRunner; requests: FakeRequest[] } {
  const requests: FakeRequest[] = [];
  const exec: CommandRunner = {
    run(argv, options = {}) {
      const request: FakeRequest = { argv, ...options };
      requests.push(request);
      const args = subcommand(argv);
      const answer = answers[args[0] ?? ""];
      return fakeRun(() => (answer === undefined ? {} : answer(request, args)));
    },
    start() {
      throw new Error("the runc fake only runs commands");
    },
  };
  return { exec, requests };
}

/** What runc 1.1 prints for an error with `--log-format json`. */
export function runcError(msg: string, exitCode = 1): Partial<CommandResult> {
  return { exitCode, stdout: "", stderr: `${JSON.stringify({ level: "error", msg, time: "2026-01-01T00:00:00Z" })}\n` };
}

export function stateJson(status: string, pid: number, bundle = "/b"): Partial<CommandResult> {
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
