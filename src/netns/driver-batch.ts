// The fast driver: one long-running `ip -force -batch -` process, requests pipelined to it.
//
// Protocol: each request is its command line followed by a sentinel line that ip always fails
// with a fixed message. `-force` keeps ip going after failures, and every failed line ends with
// "Command failed -:<line>" on stderr, so the sentinel's marker closes the request's answer and
// a marker carrying the request's own line number says that request failed. Everything is on
// stderr, which ip writes unbuffered, so the order is exact.
import type { IpOutcome, NetnsDriver } from "./driver.js";
import { execaRunner } from "../internal/command/execa-runner.js";
import type { CommandRunner, RunningProcess } from "../internal/command/types.js";

const sentinel = "errdefer-sentinel";
const marker = /^Command failed -:(\d+)$/;
// Tokens ip's batch parser reads verbatim: no blanks, quotes, backslashes or comments.
const plainToken = /^[^\s"'\\#]+$/;

/**
 * One `ip` process serves requests one after another; with several in flight a second one halves
 * the wait (issue 14: 4 in flight went from about 0.8-0.95x to 1.0-1.2x of raw `ip -batch`).
 */
const DEFAULT_PROCESSES = 2;

/** How `createBatchDriver` runs its `ip -batch` sessions. */
export interface BatchDriverOptions {
  readonly runner?: CommandRunner;
  /**
   * How many `ip -batch` processes share the requests (default 2). A second process is started
   * only while the first has a request in flight, so one-at-a-time callers use one.
   */
  readonly processes?: number;
}

interface Pending {
  readonly opLine: number;
  readonly sentinelLine: number;
  failed: boolean;
  resolve(outcome: IpOutcome): void;
}

/** One `ip -batch` process and the requests in flight on it, oldest first. */
class Session {
  readonly #proc: RunningProcess;
  readonly #pending: Pending[] = [];
  #head = 0;
  #line = 0;
  #partial = "";
  #stderr: string[] = [];
  #lostReason: string | undefined;
  readonly #exited: Promise<void>;

  constructor(runner: CommandRunner, onGone: (session: Session) => void) {
    this.#proc = runner.start(["ip", "-force", "-batch", "-"]);
    this.#proc.unref();
    this.#proc.onStderr((chunk) => this.#read(chunk));
    this.#exited = new Promise((resolve) => {
      this.#proc.onExit((description) => {
        this.#fail(`the ip -batch process ${description.replace(/^ip /, "")}`);
        onGone(this);
        resolve();
      });
    });
  }

  get inFlight(): number {
    return this.#pending.length - this.#head;
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  send(args: readonly string[]): Promise<IpOutcome> {
    if (this.#lostReason !== undefined) return Promise.resolve({ kind: "lost", reason: this.#lostReason });
    return new Promise((resolve) => {
      this.#line += 2;
      if (this.inFlight === 0) this.#proc.ref();
      this.#pending.push({ opLine: this.#line - 1, sentinelLine: this.#line, failed: false, resolve });
      this.#proc.write(`${args.join(" ")}\n${sentinel}\n`);
    });
  }

  close(): Promise<void> {
    this.#fail("the ip -batch process was closed");
    // Keep the event loop alive until it has exited, or whoever awaits close() never resumes.
    this.#proc.ref();
    this.#proc.end();
    return this.#exited;
  }

  kill(): void {
    this.#proc.kill("SIGKILL");
  }

  #read(chunk: string): void {
    const lines = (this.#partial + chunk).split("\n");
    this.#partial = lines.pop() ?? "";
    for (const line of lines) {
      const found = marker.exec(line);
      if (found === null) {
        if (!line.includes(`"${sentinel}"`)) this.#stderr.push(line);
        continue;
      }
      const number = Number(found[1]);
      const head = this.#pending[this.#head];
      if (head !== undefined && number === head.opLine) {
        head.failed = true;
      } else if (head !== undefined && number === head.sentinelLine) {
        this.#pending[this.#head] = undefined as unknown as Pending;
        this.#head += 1;
        if (this.#head === this.#pending.length) {
          this.#pending.length = 0;
          this.#head = 0;
          this.#proc.unref();
        }
        const stderr = this.#stderr.join("\n").trim();
        this.#stderr = [];
        head.resolve({ kind: "answered", failed: head.failed, exitCode: undefined, stderr });
      } else {
        // An answer we cannot place: nothing after it can be trusted either.
        this.#fail(`the ip -batch process answered out of order (line ${number}); it was killed`);
        this.#proc.kill("SIGKILL");
        return;
      }
    }
  }

  #fail(reason: string): void {
    if (this.#lostReason !== undefined) return;
    this.#lostReason = reason;
    const pending = this.#pending.slice(this.#head);
    this.#pending.length = 0;
    this.#head = 0;
    this.#proc.unref();
    for (const p of pending) p.resolve({ kind: "lost", reason: `${reason} with the operation in flight` });
  }
}

/** The fast driver: pipelines `ip netns` lines to long-running `ip -force -batch -` processes. */
export class BatchDriver implements NetnsDriver {
  readonly kind = "batch";
  readonly runner: CommandRunner;
  readonly #size: number;
  #sessions: Session[] = [];

  constructor(options: BatchDriverOptions = {}) {
    this.runner = options.runner ?? execaRunner();
    this.#size = Math.max(1, Math.floor(options.processes ?? DEFAULT_PROCESSES));
  }

  /** The pids of the live `ip -batch` processes (for tests that kill one). */
  get pids(): (number | undefined)[] {
    return this.#sessions.map((s) => s.pid);
  }

  ip(args: readonly string[]): Promise<IpOutcome> {
    const bad = args.find((a) => !plainToken.test(a));
    if (bad !== undefined) {
      return Promise.resolve({ kind: "lost", reason: `refused to send ${JSON.stringify(bad)} to ip -batch` });
    }
    return this.#pick().send(args);
  }

  /** The least busy session, starting a new process while below the pool size. */
  #pick(): Session {
    let best: Session | undefined;
    for (const s of this.#sessions) if (best === undefined || s.inFlight < best.inFlight) best = s;
    if (best !== undefined && (best.inFlight === 0 || this.#sessions.length >= this.#size)) return best;
    const session = new Session(this.runner, (gone) => {
      this.#sessions = this.#sessions.filter((s) => s !== gone);
    });
    this.#sessions.push(session);
    return session;
  }

  async close(): Promise<void> {
    const sessions = this.#sessions;
    this.#sessions = [];
    await Promise.all(sessions.map((s) => s.close()));
  }

  /** Kills every `ip -batch` process (SIGKILL), as a crash would; for tests. */
  killProcesses(): void {
    for (const s of this.#sessions) s.kill();
  }

  /** Closes the driver (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A driver that pipelines requests to a long-running `ip -force -batch -` (the default). */
export function createBatchDriver(options: BatchDriverOptions = {}): BatchDriver {
  return new BatchDriver(options);
}
