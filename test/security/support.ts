// Shared by the security tests: the sandbox-runner CLI as a child process (with a time limit),
// temporary dirs named with the run prefix, and what a CLI answer must never contain.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cliBundle } from "../../scripts/build-cli.js";
import { runPrefix } from "../support/run-prefix.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The bundled CLI, built by global-setup.ts. */
export const cliPath: string = cliBundle;

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to close, in ms. */
  readonly ms: number;
  readonly startedAt: number;
  readonly endedAt: number;
}

/**
 * Runs the bundled CLI (`node examples/sandbox-runner/bin/errdefer-sandbox.mjs ...args`); SIGKILLed after `timeoutMs`
 * (default 20 s) so that a runner waiting for a lock fails the test instead of hanging it.
 */
export function cli(
  args: readonly string[],
  options: { readonly timeoutMs?: number; readonly input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: repoRoot,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const endedAt = Date.now();
      resolve({ code, signal, stdout, stderr, ms: endedAt - startedAt, startedAt, endedAt });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** A CLI result, for failure messages. */
export function show(r: CliResult): string {
  const cut = (s: string) => (s.length > 2000 ? `${s.slice(0, 2000)}... (${s.length} chars)` : s);
  return `exit ${r.code ?? r.signal} after ${r.ms} ms\n--- stdout\n${cut(r.stdout)}\n--- stderr\n${cut(r.stderr)}`;
}

/** Lines of a JavaScript stack trace ("    at f (file:1:2)"): never on the CLI's stderr. */
export function stackLines(text: string): string[] {
  return text.split("\n").filter((l) => /^\s+at\s/.test(l));
}

const made: string[] = [];

/** A new private (0700) temporary dir carrying the run prefix; removed by removeWorkDirs. */
export function workDir(label: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${runPrefix}sec-${label}-`));
  made.push(dir);
  return dir;
}

/** Removes what workDir made (unmounting whatever is still mounted below them first). */
export function removeWorkDirs(): void {
  for (const dir of made.splice(0)) {
    for (let i = 0; i < 20 && mountsUnder(dir).length > 0; i++) {
      for (const m of mountsUnder(dir)) tryRun("umount", ["--lazy", m]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

export function tryRun(cmd: string, args: readonly string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Every path under `dir` (relative, sorted), for "nothing was created or removed" checks. */
export function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

/** The sandbox root tests' gate (root, runc, busybox, the CNI plugins). */
export { describeSandbox } from "../sandbox-runner/support/sandbox.js";

/**
 * A subnet of this file's own: 10.251.X.0/24, X from the run prefix and `index`, so that
 * concurrent runs and files rarely share one (the sandbox-runner tests use 10.252.X.0/24).
 */
export function subnetBase(index: number): string {
  const x = (parseInt(runPrefix.slice(3, 9), 16) * 8 + index) % 256;
  return `10.251.${x}`;
}

/** Deletes a link if it exists (bridges the CNI bridge plugin made, dummies the tests made). */
export function deleteLink(name: string): void {
  tryRun("ip", ["link", "del", name]);
}

export function linkExists(name: string): boolean {
  return tryRun("ip", ["link", "show", "dev", name]);
}

export { runPrefix };
