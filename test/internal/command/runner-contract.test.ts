// One contract, two implementations: the same table runs against execaRunner and spawnRunner, so
// the bare child_process path keeps exactly the safety of the execa one.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execaRunner } from "../../../src/internal/command/execa-runner.js";
import { spawnRunner } from "../../../src/internal/command/spawn-runner.js";
import type { Argv, CommandRunner, RunOptions } from "../../../src/internal/command/types.js";

const runners: [string, () => CommandRunner][] = [
  ["execaRunner", execaRunner],
  ["spawnRunner", spawnRunner],
];

const sh = (script: string): Argv => ["sh", "-c", script];
/** A command that ignores SIGTERM: only SIGKILL ends it (the disposition survives exec). */
const ignoresTerm = sh("trap '' TERM; exec sleep 30");

/** Whether `pid` is a live process (a zombie is not). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

/** The PID a script wrote to `file`, waited for (the script writes it first thing). */
async function pidIn(file: string): Promise<number> {
  await expect
    .poll(() => existsSync(file) && readFileSync(file, "utf8").endsWith("\n"), { timeout: 20_000 })
    .toBe(true);
  return Number(readFileSync(file, "utf8"));
}

const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);
let work = "";
beforeAll(() => {
  process.on("unhandledRejection", onRejection);
  work = mkdtempSync(path.join(os.tmpdir(), "errdefer-contract-"));
});
afterAll(() => {
  process.off("unhandledRejection", onRejection);
  rmSync(work, { recursive: true, force: true });
  expect(rejections).toEqual([]);
});
let files = 0;
const tempFile = (label: string) => path.join(work, `${label}-${++files}`);

describe.each(runners)("%s", (_, make) => {
  const runner = make();
  // Wall-clock upper bounds fail on a loaded machine; a run that hangs fails at the test timeout.
  const run = async (argv: Argv, options?: RunOptions) => {
    const started = performance.now();
    const result = await runner.run(argv, options);
    return { result, ms: performance.now() - started };
  };

  it("returns the exit code and both streams verbatim", async () => {
    const { result } = await run(sh("printf 'out\\n'; printf 'err\\n' >&2; exit 3"));
    expect(result._unsafeUnwrap()).toEqual({ exitCode: 3, signal: undefined, stdout: "out\n", stderr: "err\n" });
  });

  it("reports death by a signal as a result, not a failure", async () => {
    const { result } = await run(sh("kill -KILL $$"));
    expect(result._unsafeUnwrap()).toMatchObject({ exitCode: undefined, signal: "SIGKILL" });
  });

  it("passes argv verbatim, with no shell in between", async () => {
    const args = ["$(echo no)", "a b", "'q'", ";", "*"];
    const { result } = await run(["printf", "%s|", ...args]);
    expect(result._unsafeUnwrap().stdout).toBe(args.map((a) => `${a}|`).join(""));
  });

  it("writes input to stdin and closes it; without input stdin is empty", async () => {
    expect((await run(["cat"], { input: "hello\nworld" })).result._unsafeUnwrap().stdout).toBe("hello\nworld");
    expect((await run(["cat"])).result._unsafeUnwrap().stdout).toBe("");
  });

  it("survives a command that exits without reading a large input", async () => {
    const { result } = await run(["true"], { input: "x".repeat(4 << 20) });
    expect(result._unsafeUnwrap().exitCode).toBe(0);
  });

  it("adds env to the runner's own environment", async () => {
    process.env.ERRDEFER_CONTRACT_OWN = "own";
    try {
      const { result } = await run(sh('printf "%s,%s" "$ERRDEFER_CONTRACT_X" "$ERRDEFER_CONTRACT_OWN"'), {
        env: { ERRDEFER_CONTRACT_X: "$(touch nope) x" },
      });
      expect(result._unsafeUnwrap().stdout).toBe("$(touch nope) x,own");
    } finally {
      delete process.env.ERRDEFER_CONTRACT_OWN;
    }
  });

  it("decodes UTF-8 split across chunks whole", async () => {
    const { result } = await run(["sh", "-c", 'for i in $(seq 1 20000); do printf "é"; done']);
    expect(result._unsafeUnwrap().stdout).toBe("é".repeat(20000));
  });

  it("fails with spawn for a missing binary, naming it and the errno", async () => {
    const { result } = await run(["/nonexistent/errdefer-no-such-binary", "x"]);
    const failure = result._unsafeUnwrapErr();
    expect(failure.reason).toBe("spawn");
    expect(failure.message).toMatch(/^could not start \/nonexistent\/errdefer-no-such-binary: .*ENOENT/);
  });

  it("fails with spawn for an argv or options it cannot run, starting nothing", async () => {
    expect((await run(["echo", "a\0b"])).result._unsafeUnwrapErr()).toMatchObject({ reason: "spawn" });
    expect((await run([""] as unknown as Argv)).result._unsafeUnwrapErr()).toMatchObject({ reason: "spawn" });
    expect((await run([] as unknown as Argv)).result._unsafeUnwrapErr()).toMatchObject({ reason: "spawn" });
    expect((await run(["true"], { timeoutMs: -1 })).result._unsafeUnwrapErr().message).toMatch(/timeoutMs/);
    expect((await run(["true"], { maxOutputBytes: 0 })).result._unsafeUnwrapErr().message).toMatch(/maxOutputBytes/);
    expect((await run(["true"], { env: { "A=B": "x" } })).result._unsafeUnwrapErr().message).toMatch(/env/);
  });

  it("kills a command that runs past its timeout", async () => {
    const { result } = await run(["sleep", "30"], { timeoutMs: 100 });
    expect(result._unsafeUnwrapErr()).toMatchObject({ reason: "timeout", message: "sleep timed out after 100 ms" });
  });

  it("follows SIGTERM with SIGKILL after the grace period", async () => {
    const { result, ms } = await run(ignoresTerm, { timeoutMs: 100, killGraceMs: 300 });
    expect(result._unsafeUnwrapErr().reason).toBe("timeout");
    // A lower bound: load can only make it later.
    expect(ms).toBeGreaterThanOrEqual(390);
  });

  it("returns at the timeout even when a process the command left behind holds its pipes", async () => {
    const pidFile = tempFile("left");
    // The leftover writes its PID and then holds stdout and stderr for 30 s.
    const left = ["sh", "-c", 'sleep 30 & echo $! > "$0"; exec sleep 30', pidFile] as const;
    const ran = run(left, { timeoutMs: 2000 });
    const pid = await pidIn(pidFile);
    const { result } = await ran;
    expect(result._unsafeUnwrapErr().reason).toBe("timeout");
    // Returned while the leftover still held the pipes: it did not wait for their end.
    expect(alive(pid)).toBe(true);
    process.kill(pid, "SIGKILL");
  });

  it("kills the command on abort", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 100);
    const { result } = await run(["sleep", "30"], { signal: controller.signal });
    expect(result._unsafeUnwrapErr()).toMatchObject({ reason: "aborted", message: "sleep was aborted" });
  });

  it("starts nothing when the signal is already aborted", async () => {
    const marker = tempFile("started");
    const { result } = await run(["touch", marker], { signal: AbortSignal.abort() });
    expect(result._unsafeUnwrapErr().reason).toBe("aborted");
    expect(existsSync(marker)).toBe(false);
  });

  it("allows exactly maxOutputBytes on each stream", async () => {
    const { result } = await run(sh("head -c 1000 /dev/zero; head -c 1000 /dev/zero >&2"), { maxOutputBytes: 1000 });
    const r = result._unsafeUnwrap();
    expect([r.stdout.length, r.stderr.length]).toEqual([1000, 1000]);
  });

  it("fails with output-limit one byte over, on stdout or stderr", async () => {
    const out = (await run(["head", "-c", "1001", "/dev/zero"], { maxOutputBytes: 1000 })).result._unsafeUnwrapErr();
    expect(out).toMatchObject({
      reason: "output-limit",
      message: "head wrote more than 1000 bytes to stdout and was killed",
    });
    const err = (await run(sh("head -c 1001 /dev/zero >&2"), { maxOutputBytes: 1000 })).result._unsafeUnwrapErr();
    expect(err).toMatchObject({
      reason: "output-limit",
      message: "sh wrote more than 1000 bytes to stderr and was killed",
    });
  });

  it("kills a command that never stops writing", async () => {
    const { result } = await run(["yes"], { maxOutputBytes: 64 * 1024 });
    expect(result._unsafeUnwrapErr().reason).toBe("output-limit");
  });

  it("has a 16 MiB default limit", async () => {
    const over = await run(["head", "-c", String(16 * 1024 * 1024 + 1), "/dev/zero"]);
    expect(over.result._unsafeUnwrapErr().reason).toBe("output-limit");
    const under = await run(["head", "-c", String(16 * 1024 * 1024), "/dev/zero"]);
    expect(under.result._unsafeUnwrap().stdout).toHaveLength(16 * 1024 * 1024);
  });

  it("detached: no output pipes, so a process left holding stdio does not hold the call", async () => {
    const pidFile = tempFile("detached");
    const script = 'echo hi; echo there >&2; sleep 30 & echo $! > "$0"';
    const { result } = await run(["sh", "-c", script, pidFile], { detached: true });
    expect(result._unsafeUnwrap()).toEqual({ exitCode: 0, signal: undefined, stdout: "", stderr: "" });
    // Returned while the process it left (holding its stdio) still runs.
    const pid = await pidIn(pidFile);
    expect(alive(pid)).toBe(true);
    process.kill(pid, "SIGKILL");
  });

  it("start: stderr chunks in order, stdin, and one exit description", async () => {
    const proc = runner.start(sh("cat >&2"));
    const chunks: string[] = [];
    proc.onStderr((c) => chunks.push(c));
    const exited = new Promise<string>((resolve) => proc.onExit(resolve));
    expect(proc.pid).toBeGreaterThan(0);
    proc.write("one\n");
    proc.write("two\n");
    proc.end();
    expect(await exited).toBe("sh exited with code 0");
    expect(chunks.join("")).toBe("one\ntwo\n");
  });

  it("start: a kill and a missing binary are exit descriptions", async () => {
    const proc = runner.start(["sleep", "30"]);
    const killed = new Promise<string>((resolve) => proc.onExit(resolve));
    proc.kill("SIGKILL");
    expect(await killed).toBe("sleep was killed by SIGKILL");
    const missing = runner.start(["/nonexistent/errdefer-no-such-binary"]);
    proc.write("dropped");
    expect(await new Promise<string>((resolve) => missing.onExit(resolve))).toMatch(
      /^could not start \/nonexistent\/errdefer-no-such-binary: .*ENOENT/,
    );
  });
});
