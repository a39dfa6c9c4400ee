// A lock taker for test/internal/lock-file.test.ts, run as its own node process. Commands arrive
// on stdin, one a line; each is answered on stdout.
//   go <round> <waitMs> <holdMs>   take the lock; while holding it append "enter <pid> <round>" and
//                                  "exit <pid> <round>" to the log; answer "got|busy|error <round> ..."
//   hold <waitMs>                  take the lock, start `sleep 60` (a helper that would outlive
//                                  us), answer "held <sleep pid>", and keep the lock until killed
//   keep                           take the lock and end without releasing it (answer "kept")
// argv: <lock file> <log file>. LOCK_MODULE (a path) runs another takeLockFile with the same
// signature: how the race was shown against the rename-based lock this one replaced.
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { selfIdentity } from "../../src/internal/liveness.js";
import * as ours from "../../src/internal/lock-file.js";

type Take = typeof ours.takeLockFile;
const lockModule = process.env.LOCK_MODULE;
const { takeLockFile } = (lockModule === undefined ? ours : await import(pathToFileURL(lockModule).href)) as {
  takeLockFile: Take;
};
const [lock, log] = process.argv.slice(2) as [string, string];
const self = selfIdentity();
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const isBusy = (e: unknown): boolean => (e as { code?: unknown }).code === "lock-busy";

async function round(n: string, waitMs: number, holdMs: number): Promise<void> {
  let release: () => Promise<void>;
  try {
    release = await takeLockFile(lock, self, { waitMs });
  } catch (e) {
    say(isBusy(e) ? `busy ${n}` : `error ${n} ${String(e).replace(/\n/g, " ")}`);
    return;
  }
  appendFileSync(log, `enter ${process.pid} ${n}\n`);
  await sleep(holdMs);
  appendFileSync(log, `exit ${process.pid} ${n}\n`);
  await release();
  say(`got ${n}`);
}

async function hold(waitMs: number): Promise<void> {
  await takeLockFile(lock, self, { waitMs });
  const helper = spawn("sleep", ["60"], { stdio: "ignore", detached: true });
  helper.unref();
  say(`held ${helper.pid}`);
  setInterval(() => undefined, 1 << 30);
}

say("ready");
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, a, b, c] = line.split(" ");
  if (cmd === "go") void round(a!, Number(b), Number(c));
  else if (cmd === "hold") await hold(Number(a));
  else if (cmd === "keep") {
    await takeLockFile(lock, self, {});
    say("kept");
    process.stdin.destroy();
    break;
  }
}
