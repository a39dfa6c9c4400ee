// A fake CommandRunner for the CNI unit tests: records every call and answers from a script per plugin.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Argv, CommandResult, CommandRunner, RunOptions } from "errdefer/host";
import { fakeRun, type FakeAnswer } from "../../support/fake-runner.js";

export { runFailure } from "../../support/fake-runner.js";

/** What `run` was given: the argv and the options, side by side. */
export type FakeRequest = RunOptions & { readonly argv: Argv };

export interface RecordedCall {
  readonly plugin: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: unknown;
  readonly request: FakeRequest;
}

export type Answer = (call: RecordedCall) => FakeAnswer | Promise<FakeAnswer>;

export function fakeExec(answers: Record<string, Answer> = {}): { exec: CommandRunner; calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  const answer = (call: RecordedCall): FakeAnswer | Promise<FakeAnswer> => {
    const scripted = answers[`${call.plugin}:${call.env.CNI_COMMAND}`] ?? answers[call.plugin];
    if (scripted !== undefined) return scripted(call);
    // Default: ADD passes prevResult through (like loopback) or returns an empty result; DEL succeeds.
    if (call.env.CNI_COMMAND === "ADD") {
      const prev = (call.stdin as { prevResult?: unknown }).prevResult;
      return okJson(prev ?? { cniVersion: "1.0.0" });
    }
    return { exitCode: 0 };
  };
  const exec: CommandRunner = {
    run(argv, options = {}) {
      const request: FakeRequest = { argv, ...options };
      const call: RecordedCall = {
        plugin: path.basename(argv[0]),
        argv,
        env: options.env ?? {},
        stdin: options.input === undefined ? undefined : JSON.parse(options.input),
        request,
      };
      calls.push(call);
      return fakeRun(() => answer(call));
    },
    start() {
      throw new Error("the CNI fake only runs commands");
    },
  };
  return { exec, calls };
}

export function okJson(value: unknown): Partial<CommandResult> {
  return { exitCode: 0, stdout: JSON.stringify(value), stderr: "" };
}

export function failJson(code: number, msg: string, details?: string): Partial<CommandResult> {
  return {
    exitCode: 1,
    stdout: JSON.stringify(details === undefined ? { code, msg } : { code, msg, details }),
    stderr: "",
  };
}

/** A temp bin dir holding empty executable files named after the given plugins. */
export function tempBinDir(plugins: readonly string[]): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cni-unit-bin-"));
  for (const p of plugins) {
    writeFileSync(path.join(dir, p), "");
    chmodSync(path.join(dir, p), 0o755);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
