// The lock file (src/internal/lock-file.ts), an flock(2) lock: many processes racing for a stale,
// an empty and a missing lock, hundreds of rounds, never two holders at once; a holder killed with
// SIGKILL lets go at once (a helper it started holds nothing); a held lock keeps no process alive;
// waiting, its deadline and abort; lock files that are garbage, empty, zero-filled or a directory
// are locked as they are (never hang, never renamed away); paths that cannot be locked are refused.
// The race against another takeLockFile (the rename-based one this replaced, from git history):
//   LOCK_MODULE=/path/to/old/lock-file.ts npx vitest run test/internal/lock-file.test.ts -t racing
// LOCK_RACE_TAKERS and LOCK_RACE_ROUNDS change its size (default 6 and 300).
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { selfIdentity } from "../../src/internal/liveness.js";
import { isLockBusy, lockHolderFile, takeLockFile, type LockBusyError } from "../../src/internal/lock-file.js";
import { deadIdentity, removeTempDirs, tempDir, type Identity } from "../support/journal.js";

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), "lock-worker.ts");
const ROUNDS = Number(process.env.LOCK_RACE_ROUNDS ?? 300);
const TAKERS = Number(process.env.LOCK_RACE_TAKERS ?? 6);
const HOLD_MS = 2;

/** A lock-worker.ts process: `ask` writes a command and resolves to its next answer. */
class Worker {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<unknown>;
  readonly #lines: string[] = [];
  readonly #waiting: ((line: string) => void)[] = [];

  constructor(lock: string, log: string) {
    this.child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", worker, lock, log], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.exited = once(this.child, "exit");
    let stderr = "";
    this.child.stderr.on("data", (d: Buffer) => (stderr += String(d)));
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const waiter = this.#waiting.shift();
      if (waiter !== undefined) waiter(line);
      else this.#lines.push(line);
    });
    this.child.on("exit", (code) => {
      for (const w of this.#waiting.splice(0)) w(`exited ${code} ${stderr}`);
    });
  }

  next(): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  ask(command: string): Promise<string> {
    this.child.stdin.write(`${command}\n`);
    return this.next();
  }

  async ready(): Promise<this> {
    expect(await this.next()).toBe("ready");
    return this;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }
}

const workers: Worker[] = [];
async function startWorkers(n: number, lock: string, log: string): Promise<Worker[]> {
  const started = Array.from({ length: n }, () => new Worker(lock, log));
  workers.push(...started);
  return Promise.all(started.map((w) => w.ready()));
}
afterEach(async () => {
  for (const w of workers.splice(0)) await w.kill();
});
afterAll(removeTempDirs);

let dead: Identity;
beforeAll(async () => {
  dead = await deadIdentity();
});

/** Per round, the most processes that held the lock at once, from the log's enter/exit lines. */
function mostAtOnce(log: string): Map<string, number> {
  const most = new Map<string, number>();
  const holding = new Set<string>();
  for (const line of log.split("\n").filter((l) => l !== "")) {
    const [what, pid, round] = line.split(" ") as [string, string, string];
    if (what === "enter") holding.add(pid);
    else holding.delete(pid);
    most.set(round, Math.max(most.get(round) ?? 0, holding.size));
  }
  return most;
}

type Kind = "stale" | "empty" | "missing";
function prepare(kind: Kind, lock: string, dead: Identity): void {
  rmSync(lockHolderFile(lock), { force: true });
  if (kind === "missing") rmSync(lock, { force: true });
  // What the rename-based lock wrote, naming a process that is gone.
  else writeFileSync(lock, kind === "stale" ? JSON.stringify(dead) : "", { mode: 0o600 });
}

describe("processes racing for one lock", () => {
  it(`${TAKERS} processes, ${ROUNDS} rounds of a stale, an empty and a missing lock: one holder at a time, every round someone holds it`, async () => {
    const dir = tempDir("lock-race");
    const lock = path.join(dir, "recover.lock");
    const log = path.join(dir, "log");
    const takers = await startWorkers(TAKERS, lock, log);
    const kinds: Kind[] = ["stale", "empty", "missing"];
    const noHolder: string[] = [];
    const errors: string[] = [];
    let holds = 0;
    for (let round = 0; round < ROUNDS; round++) {
      prepare(kinds[round % kinds.length]!, lock, dead);
      // Two in three fail at once when it is taken, one in three waits for it (the runner's state-dir lock waits).
      const answers = await Promise.all(
        takers.map((w, i) => w.ask(`go ${round} ${i % 3 === 2 ? 10_000 : 0} ${HOLD_MS}`)),
      );
      const got = answers.filter((a) => a.startsWith("got")).length;
      holds += got;
      if (got === 0) noHolder.push(`round ${round}`);
      errors.push(...answers.filter((a) => !/^(got|busy) /.test(a)));
      // Every waiting taker got its turn.
      answers.forEach((a, i) => i % 3 === 2 && !a.startsWith("got") && errors.push(`waiter ${i}: ${a}`));
    }
    const text = readFileSync(log, "utf8");
    const most = mostAtOnce(text);
    const shared = [...most].filter(([, n]) => n > 1);
    const byKind = kinds.map((k, i) => `${k} ${shared.filter(([r]) => Number(r) % kinds.length === i).length}`);
    console.log(
      `lock race: ${TAKERS} processes, ${ROUNDS} rounds, ${holds} holds; rounds with two or more holders at once: ` +
        `${shared.length} (${byKind.join(", ")}; most at once: ${Math.max(0, ...most.values())})`,
    );
    expect(errors).toEqual([]);
    expect(
      shared.map(([round, n]) => `round ${round}: ${n} holders at once`),
      "two holders at once",
    ).toEqual([]);
    expect(noHolder, "rounds nobody got the lock").toEqual([]);
    expect(text.split("\n").filter((l) => l.startsWith("enter"))).toHaveLength(holds);
  }, 60_000);
});

/** takeLockFile's rejection (it must reject). */
async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("the lock was taken"),
    (e: unknown) => e,
  );
}

describe("a holder that dies, or ends without releasing", () => {
  it("a holder SIGKILLed: the next taker gets the lock at once; a helper the holder started holds nothing", async () => {
    const dir = tempDir("lock-killed");
    const lock = path.join(dir, "lock");
    const [holder] = await startWorkers(1, lock, path.join(dir, "log"));
    const helper = Number((await holder!.ask("hold 0")).split(" ")[1]);
    try {
      const busy = (await refusal(takeLockFile(lock, selfIdentity()))) as LockBusyError;
      expect(isLockBusy(busy)).toBe(true);
      expect(busy.holder?.pid).toBe(holder!.child.pid);
      expect(busy.message).toContain(`process ${holder!.child.pid}`);
      await holder!.kill();
      // waitMs 0: taken now or never. The helper (`sleep`, still running) inherited no lock.
      const release = await takeLockFile(lock, selfIdentity());
      expect(() => process.kill(helper, 0), "the helper outlived its starter").not.toThrow();
      expect(JSON.parse(readFileSync(lockHolderFile(lock), "utf8"))).toMatchObject({ pid: process.pid });
      await release();
      expect(existsSync(lock), "the lock file stays").toBe(true);
      expect(existsSync(lockHolderFile(lock)), "the holder file goes with the lock").toBe(false);
    } finally {
      process.kill(helper, "SIGKILL");
    }
  });

  it("a process that ends holding the lock is not kept alive by it, and lets it go", async () => {
    const dir = tempDir("lock-kept");
    const lock = path.join(dir, "lock");
    const [keeper] = await startWorkers(1, lock, path.join(dir, "log"));
    expect(await keeper!.ask("keep")).toBe("kept");
    const [code] = (await keeper!.exited) as [number | null];
    expect(code).toBe(0);
    await (
      await takeLockFile(lock, selfIdentity())
    )();
  });
});

describe("waiting", () => {
  it("waits for the holder to let go; past waitMs it is busy, naming the holder", async () => {
    const dir = tempDir("lock-wait");
    const lock = path.join(dir, "lock");
    const release = await takeLockFile(lock, selfIdentity());
    const busy = (await refusal(takeLockFile(lock, selfIdentity(), { waitMs: 150 }))) as LockBusyError;
    expect(isLockBusy(busy) && busy.holder?.pid).toBe(process.pid);
    const waiting = takeLockFile(lock, selfIdentity(), { waitMs: 10_000 });
    setTimeout(() => void release(), 100);
    await (
      await waiting
    )();
  });

  it("an abort stops the wait, and leaves nothing held", async () => {
    const dir = tempDir("lock-abort");
    const lock = path.join(dir, "lock");
    const release = await takeLockFile(lock, selfIdentity());
    const controller = new AbortController();
    const waiting = refusal(takeLockFile(lock, selfIdentity(), { waitMs: 20_000, signal: controller.signal }));
    setTimeout(() => controller.abort(new Error("stop waiting")), 100);
    expect(await waiting).toEqual(new Error("stop waiting"));
    await release();
    await (
      await takeLockFile(lock, selfIdentity())
    )();
    await expect(takeLockFile(lock, selfIdentity(), { signal: AbortSignal.abort() })).rejects.toThrow();
  });

  it("two takers in one process: the second is busy; release is idempotent", async () => {
    const lock = path.join(tempDir("lock-twice"), "lock");
    const release = await takeLockFile(lock, selfIdentity());
    expect(isLockBusy(await refusal(takeLockFile(lock, selfIdentity())))).toBe(true);
    await release();
    await release();
    const again = await takeLockFile(lock, selfIdentity());
    await release(); // the first holder's release does not let go of the second's lock
    expect(isLockBusy(await refusal(takeLockFile(lock, selfIdentity())))).toBe(true);
    await again();
  });
});

describe("what is at the lock's path", () => {
  const contents: [string, string | Buffer][] = [
    ["garbage", "\u0000not json{{"],
    ["empty", ""],
    ["zero-filled", Buffer.alloc(4096)],
    ["a stale rename-based lock", '{"pid":1,"startTime":"1"}'],
  ];
  it.each(contents)("%s: locked as it is, never renamed or rewritten", async (_, content) => {
    const dir = tempDir("lock-content");
    const lock = path.join(dir, "recover.lock");
    writeFileSync(lock, content, { mode: 0o600 });
    const { ino } = statSync(lock);
    const release = await takeLockFile(lock, selfIdentity());
    expect(isLockBusy(await refusal(takeLockFile(lock, selfIdentity())))).toBe(true);
    await release();
    expect(statSync(lock).ino).toBe(ino);
    expect(readFileSync(lock)).toEqual(Buffer.from(content));
    expect(readdirSync(dir)).toEqual(["recover.lock"]);
  });

  it("a directory is locked as one, and stays", async () => {
    const lock = path.join(tempDir("lock-dir"), "lock");
    mkdirSync(lock);
    const release = await takeLockFile(lock, selfIdentity());
    expect(isLockBusy(await refusal(takeLockFile(lock, selfIdentity())))).toBe(true);
    await release();
    expect(statSync(lock).isDirectory()).toBe(true);
  });

  it("a symlink or a FIFO is refused at once (no hang), and left in place", async () => {
    const dir = tempDir("lock-odd");
    symlinkSync(path.join(dir, "elsewhere"), path.join(dir, "link"));
    expect(await refusal(takeLockFile(path.join(dir, "link"), selfIdentity()))).toMatchObject({ code: "ELOOP" });
    expect(existsSync(path.join(dir, "elsewhere"))).toBe(false);
    execFileSync("mkfifo", [path.join(dir, "fifo")]);
    expect(await refusal(takeLockFile(path.join(dir, "fifo"), selfIdentity()))).toMatchObject({ code: "EINVAL" });
    expect(readdirSync(dir).sort()).toEqual(["fifo", "link"]);
  });

  it("a symlink lock is refused with a message saying so", async () => {
    const dir = tempDir("lock-link");
    symlinkSync(path.join(dir, "elsewhere"), path.join(dir, "lock"));
    const refused = (await refusal(takeLockFile(path.join(dir, "lock"), selfIdentity()))) as Error;
    expect(refused.message).toBe(`${path.join(dir, "lock")} cannot be a lock file: it is a symlink`);
  });

  const holders: [string, (file: string) => void][] = [
    ["garbage", (f) => writeFileSync(f, "\u0000{{")],
    ["a FIFO", (f) => execFileSync("mkfifo", [f])],
    ["a directory", (f) => mkdirSync(f)],
    ["a symlink to a JSON file naming a live process", (f) => symlinkSync(path.join(path.dirname(f), "x.json"), f)],
  ];
  it.each(holders)("a holder file that is %s: busy at once, the holder not named", async (_, make) => {
    const dir = tempDir("lock-holder");
    const lock = path.join(dir, "lock");
    writeFileSync(path.join(dir, "x.json"), JSON.stringify(selfIdentity()));
    const release = await takeLockFile(lock, selfIdentity());
    rmSync(lockHolderFile(lock), { force: true });
    make(lockHolderFile(lock));
    const busy = (await refusal(takeLockFile(lock, selfIdentity()))) as LockBusyError;
    expect(isLockBusy(busy) && busy.holder).toBeUndefined();
    expect(busy.message).toBe(`${lock} is held by another process`);
    await release();
  });

  it("sweeps what killed takers left beside it: old stale-lock copies, holder temp files", async () => {
    const dir = tempDir("lock-sweep");
    const lock = path.join(dir, "recover.lock");
    for (const name of [
      "recover.lock.stale-0123abcd",
      ".recover.lock.holder.99999-0123abcd.tmp",
      "other.stale-0123abcd",
    ])
      writeFileSync(path.join(dir, name), "x");
    await (
      await takeLockFile(lock, selfIdentity())
    )();
    expect(readdirSync(dir).sort()).toEqual(["other.stale-0123abcd", "recover.lock"]);
  });
});

describe("await using", () => {
  it("the release is async-disposable: the lock is let go at the end of the block", async () => {
    const lock = path.join(tempDir("lock-using"), "lock");
    {
      await using held = await takeLockFile(lock, selfIdentity());
      expect(typeof held).toBe("function");
      expect(isLockBusy(await refusal(takeLockFile(lock, selfIdentity(), { waitMs: 0 })))).toBe(true);
    }
    const again = await takeLockFile(lock, selfIdentity(), { waitMs: 0 });
    await again();
  });
});
