// dieWithParent, for both runners: a command started with it is SIGKILLed by the kernel when the
// process that started it is SIGKILLed; without it, it lives on (the control); what the command
// itself starts lives on either way (runc's container process); otherwise it runs exactly as
// without (exit code, signal, streams, stdin, env, failures named after the program).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { execaRunner } from "../../../src/internal/command/execa-runner.js";
import { spawnRunner } from "../../../src/internal/command/spawn-runner.js";
import type { CommandRunner } from "../../../src/internal/command/types.js";

const helper = path.join(import.meta.dirname, "parent-child.ts");
const work = mkdtempSync(path.join(os.tmpdir(), "errdefer-pdeath-"));
let files = 0;
/** PIDs to SIGKILL after each test, whatever it found. */
const strays: number[] = [];

afterEach(() => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone, as it should be
    }
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Whether `pid` is a live process (a zombie is not). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

/** The PID written to `file` (once the line is complete). */
async function pidIn(file: string): Promise<number> {
  const complete = () => existsSync(file) && readFileSync(file, "utf8").endsWith("\n");
  await expect.poll(complete, { timeout: 20_000 }).toBe(true);
  const pid = Number(readFileSync(file, "utf8"));
  strays.push(pid);
  return pid;
}

type How = "run" | "start" | "run-default";

/**
 * Starts a parent process (parent-child.ts) that starts `sh -c SCRIPT PIDFILE` through a runner,
 * waits for the script to write a PID, SIGKILLs the parent and waits for it to be reaped.
 */
async function killParentOf(which: string, how: How, die: boolean, script: string): Promise<number> {
  const pidFile = path.join(work, `pid-${++files}`);
  const args = ["--import", "tsx", helper, which, how, die ? "yes" : "no", "sh", "-c", script, pidFile];
  const parent = spawn(process.execPath, args, { stdio: "ignore" });
  const reaped = new Promise((resolve) => parent.on("close", resolve));
  const pid = await pidIn(pidFile);
  parent.kill("SIGKILL");
  await reaped;
  return pid;
}

/** The script writes its own PID (the command's: setpriv execs it in place), then sleeps. */
const itself = 'echo $$ > "$0"; exec sleep 30';
/** The script starts a grandchild, writes the grandchild's PID, and waits for it. */
const grandchild = 'sleep 30 & echo $! > "$0"; wait';

const runners: [string, (defaults?: { dieWithParent?: boolean }) => CommandRunner][] = [
  ["spawn", spawnRunner],
  ["execa", execaRunner],
];

describe.each(runners)("%sRunner: dieWithParent", (which, make) => {
  it.each<How>(["run", "start", "run-default"])(
    "%s: the command dies when its parent is SIGKILLed",
    async (how) => {
      const pid = await killParentOf(which, how, true, itself);
      await expect.poll(() => alive(pid), { timeout: 10_000 }).toBe(false);
    },
    30_000,
  );

  it("without it, the command outlives its parent (the control)", async () => {
    const pid = await killParentOf(which, "run", false, itself);
    expect(alive(pid)).toBe(true);
  }, 30_000);

  it("what the command starts outlives the parent (the setting is not inherited across fork)", async () => {
    const pid = await killParentOf(which, "run", true, grandchild);
    expect(alive(pid)).toBe(true);
  }, 30_000);

  it("the command runs as itself: exit code, signal, stdin, env, streams", async () => {
    const runner = make({ dieWithParent: true });
    const r = await runner.run(["sh", "-c", 'printf "%s," "$X"; cat; printf e >&2; exit 3'], {
      input: "in",
      env: { X: "x" },
    });
    expect(r._unsafeUnwrap()).toEqual({ exitCode: 3, signal: undefined, stdout: "x,in", stderr: "e" });
    const killed = await runner.run(["sh", "-c", "kill -KILL $$"]);
    expect(killed._unsafeUnwrap()).toMatchObject({ exitCode: undefined, signal: "SIGKILL" });
  });

  it("failures name the program, not setpriv", async () => {
    const runner = make();
    const timedOut = await runner.run(["sleep", "30"], { timeoutMs: 100, dieWithParent: true });
    expect(timedOut._unsafeUnwrapErr()).toMatchObject({ reason: "timeout", message: "sleep timed out after 100 ms" });
    const over = await runner.run(["head", "-c", "1001", "/dev/zero"], { maxOutputBytes: 1000, dieWithParent: true });
    expect(over._unsafeUnwrapErr().message).toBe("head wrote more than 1000 bytes to stdout and was killed");
  });

  it("a missing or non-executable program fails to start (spawn), as without setpriv", async () => {
    const runner = make({ dieWithParent: true });
    const missing = (await runner.run(["/nonexistent/errdefer-no-such-binary"]))._unsafeUnwrapErr();
    expect(missing).toMatchObject({
      reason: "spawn",
      message:
        "could not start /nonexistent/errdefer-no-such-binary: spawn /nonexistent/errdefer-no-such-binary ENOENT",
    });
    const notOnPath = (await runner.run(["errdefer-no-such-binary"]))._unsafeUnwrapErr();
    expect(notOnPath.message).toBe("could not start errdefer-no-such-binary: spawn errdefer-no-such-binary ENOENT");
    const plain = path.join(work, "not-executable");
    writeFileSync(plain, "#!/bin/sh\n", { mode: 0o644 });
    const notExecutable = (await runner.run([plain]))._unsafeUnwrapErr();
    expect(notExecutable).toMatchObject({ reason: "spawn", message: expect.stringMatching(/EACCES$/) });
    const started = runner.start(["/nonexistent/errdefer-no-such-binary"]);
    expect(await new Promise((resolve) => started.onExit(resolve))).toMatch(/^could not start .*ENOENT$/);
  });

  it("looks the program up on the call's PATH", async () => {
    const r = await make().run(["sh", "-c", "echo ok"], { dieWithParent: true, env: { PATH: "/nonexistent:/bin" } });
    expect(r._unsafeUnwrap().stdout).toBe("ok\n");
  });
});
