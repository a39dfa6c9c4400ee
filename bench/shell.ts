// Bare commands for the bench tables that drive the host (sandbox, cri): no shell, output kept.
import { spawn } from "node:child_process";

export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ShOptions {
  readonly env?: Record<string, string>;
  readonly input?: string;
  /** stdio ignored (runc create: the container keeps it open). */
  readonly quiet?: boolean;
}

/** Runs a command (no shell) to its end. */
export function sh(argv: readonly string[], opts: ShOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: opts.env === undefined ? process.env : { ...process.env, ...opts.env },
      stdio: opts.quiet === true ? "ignore" : [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** sh, and a thrown error naming the command and its output when it does not exit 0. */
export async function must(argv: readonly string[], opts: ShOptions = {}): Promise<Ran> {
  const r = await sh(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${(r.stdout + r.stderr).trim()}`);
  return r;
}
