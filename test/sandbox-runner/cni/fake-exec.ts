// A fake Exec for the CNI unit tests: records every call and answers from a script per plugin.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Exec, ExecRequest, ExecResult } from "../../../examples/sandbox-runner/exec.js";

export interface RecordedCall {
  readonly plugin: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: unknown;
  readonly request: ExecRequest;
}

export type Answer = (call: RecordedCall) => ExecResult | Promise<ExecResult>;

export function fakeExec(answers: Record<string, Answer> = {}): { exec: Exec; calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  const exec: Exec = async (request) => {
    const plugin = path.basename(request.argv[0]);
    const call: RecordedCall = {
      plugin,
      argv: request.argv,
      env: request.env ?? {},
      stdin: request.input === undefined ? undefined : JSON.parse(request.input),
      request,
    };
    calls.push(call);
    const answer = answers[`${plugin}:${call.env.CNI_COMMAND}`] ?? answers[plugin];
    if (answer !== undefined) return answer(call);
    // Default: ADD passes prevResult through (like loopback) or returns an empty result; DEL succeeds.
    if (call.env.CNI_COMMAND === "ADD") {
      const prev = (call.stdin as { prevResult?: unknown }).prevResult;
      return okJson(prev ?? { cniVersion: "1.0.0" });
    }
    return { exitCode: 0, stdout: "", stderr: "" };
  };
  return { exec, calls };
}

export function okJson(value: unknown): ExecResult {
  return { exitCode: 0, stdout: JSON.stringify(value), stderr: "" };
}

export function failJson(code: number, msg: string, details?: string): ExecResult {
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
