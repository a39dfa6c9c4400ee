// Shared by the saga and journal tests: fake adapters that record to arrays, private temporary
// journal dirs (named with the run prefix, so a leftover fails the run), process identities of a
// dead and of a live child, and segment files written as another process would have.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { err, ok, type Result, type ResultAsync } from "neverthrow";
import type { ResourceAdapter } from "../../src/index.js";
import { MemoryJournal } from "../../src/journal/index.js";
import { runPrefix } from "./run-prefix.js";

/** What a fake resource is described as: its id (chosen by plan) and whether acquire confirmed it. */
export interface FakeDesc {
  readonly [key: string]: string | boolean;
  readonly id: string;
  readonly acquired: boolean;
}

export interface FakeAdapterOptions {
  /** Ids whose release fails (an err), for as long as they are in the set. */
  readonly failRelease?: Set<string>;
  /** Ids whose acquisition fails (an err). */
  readonly failAcquire?: Set<string>;
  /** Called at the start of each acquisition (to inspect the journal, or to break it). */
  readonly onAcquire?: (plan: FakeDesc) => void;
}

/** A fake adapter of `kind` that logs `acquire <id>` / `release <id>` to `log`. */
export function fakeAdapter(
  kind: string,
  log: string[],
  options: FakeAdapterOptions = {},
): ResourceAdapter<{ id: string }, FakeDesc, FakeDesc, Error> {
  return {
    kind,
    plan: (spec) => ({ id: spec.id, acquired: false }),
    acquire: (plan): Result<FakeDesc, Error> => {
      options.onAcquire?.(plan);
      if (options.failAcquire?.has(plan.id) === true) {
        log.push(`acquire-failed ${plan.id}`);
        return err(new Error(`acquire ${plan.id} failed`));
      }
      log.push(`acquire ${plan.id}`);
      return ok({ id: plan.id, acquired: true });
    },
    describe: (r) => r,
    release: (desc) => {
      if (options.failRelease?.has(desc.id) === true) {
        log.push(`release-failed ${desc.id}`);
        return err(new Error(`release ${desc.id} failed`));
      }
      log.push(`release ${desc.id}`);
      return ok(undefined);
    },
  };
}

const made: string[] = [];

/** A new temporary directory (0700) carrying the run prefix; removed by `removeTempDirs`. */
export function tempDir(label: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${runPrefix}${label}-`));
  chmodSync(dir, 0o700);
  made.push(dir);
  return dir;
}

/** Removes every dir `tempDir` made (call from afterAll / afterEach). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface Identity {
  readonly pid: number;
  readonly startTime: string;
}

/** Field 22 of /proc/PID/stat (the start time in clock ticks); the name may hold spaces and ')'. */
export function startTimeOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[22 - 3]!;
}

/** The identity of a short child that has exited (and been reaped): a dead process. */
export async function deadIdentity(): Promise<Identity> {
  const child = spawn("cat", [], { stdio: ["pipe", "ignore", "ignore"] });
  const pid = child.pid!;
  const startTime = startTimeOf(pid);
  const exited = once(child, "exit");
  child.stdin.end();
  await exited;
  return { pid, startTime };
}

/** A live `sleep` child and its identity; kill it with `child.kill()`. */
export function liveChild(): { child: ChildProcess; identity: Identity; exited: Promise<unknown> } {
  const child = spawn("sleep", ["60"], { stdio: "ignore" });
  const exited = once(child, "exit");
  return { child, identity: { pid: child.pid!, startTime: startTimeOf(child.pid!) }, exited };
}

/** The name FileJournal gives a segment of process `who`. */
export function segmentName(who: Identity): string {
  return `${who.pid}-${who.startTime}-${randomBytes(4).toString("hex")}.jsonl`;
}

/** Writes `lines` as the segment of process `who` in `dir` (0600); returns its path. */
export function writeSegment(dir: string, who: Identity, text: string): string {
  const file = path.join(dir, segmentName(who));
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** The journal lines a saga run writes (with a MemoryJournal), to play "killed after line N". */
export async function journalLinesOf(
  run: (journal: MemoryJournal) => ResultAsync<unknown, unknown>,
): Promise<string[]> {
  const journal = new MemoryJournal();
  await run(journal);
  return [...journal.lines()];
}
