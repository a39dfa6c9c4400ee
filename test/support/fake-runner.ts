// A fake CommandRunner: records argv, answers `run` from a script, and plays `ip -batch`. Also the
// answer shape every fake runner shares (the CNI and runc fakes too).
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from "neverthrow";
import type {
  Argv,
  CommandResult,
  CommandRunner,
  RunFailure,
  RunFailureReason,
  RunningProcess,
} from "../../src/netns/index.js";

/** How a fake answers one command: a result (missing fields: exit 0, no output), or a failure to run. */
export type FakeAnswer = Partial<CommandResult> | { readonly failure: RunFailure };

/** A RunFailure for a fake to answer with. */
export function runFailure(reason: RunFailureReason, message: string): { readonly failure: RunFailure } {
  return { failure: { reason, message, cause: undefined } };
}

export function answerResult(a: FakeAnswer): Result<CommandResult, RunFailure> {
  if ("failure" in a) return err(a.failure);
  return ok({ exitCode: 0, signal: undefined, stdout: "", stderr: "", ...a });
}

/** `run`'s answer from a scripted one that may be async; a script that throws makes it reject, as a broken runner would. */
export function fakeRun(script: () => FakeAnswer | Promise<FakeAnswer>): ResultAsync<CommandResult, RunFailure> {
  return new ResultAsync((async () => answerResult(await script()))());
}

/** How the fake `ip -batch` answers one line: nothing on success, stderr text on failure. */
export type BatchAnswer = { readonly fail?: false } | { readonly fail: true; readonly stderr: string };

export interface FakeBatchProcess {
  readonly pid: number;
  readonly lines: string[];
  refs: number;
  exited: boolean;
  /** Ends the process as a crash would, answering nothing more. */
  crash(description?: string): void;
  /** Writes raw stderr, for protocol tests. */
  emit(chunk: string): void;
}

export class FakeRunner implements CommandRunner {
  readonly calls: Argv[] = [];
  readonly batches: FakeBatchProcess[] = [];
  /** Holds batch answers back until `release()` (to test many requests in flight). */
  hold = false;
  #held: (() => void)[] = [];
  #nextPid = 1000;

  constructor(
    readonly answer: (argv: Argv) => FakeAnswer = () => ({}),
    readonly answerLine: (line: string) => BatchAnswer = () => ({}),
  ) {}

  run(argv: Argv) {
    this.calls.push(argv);
    const a = answerResult(this.answer(argv));
    return a.isErr() ? errAsync(a.error) : okAsync(a.value);
  }

  release(): void {
    const held = this.#held;
    this.#held = [];
    for (const h of held) h();
  }

  start(argv: Argv): RunningProcess {
    this.calls.push(argv);
    let stderrListener: ((chunk: string) => void) | undefined;
    let exitListener: ((d: string) => void) | undefined;
    let lineNo = 0;
    const fake: FakeBatchProcess = {
      pid: this.#nextPid++,
      lines: [],
      refs: 0,
      exited: false,
      crash: (description = "ip was killed by SIGKILL") => {
        if (fake.exited) return;
        fake.exited = true;
        setImmediate(() => exitListener?.(description));
      },
      emit: (chunk) => stderrListener?.(chunk),
    };
    this.batches.push(fake);
    const respond = (line: string, n: number) => {
      if (fake.exited) return;
      if (line === "errdefer-sentinel") {
        stderrListener?.(`Object "errdefer-sentinel" is unknown, try "ip help".\nCommand failed -:${n}\n`);
        return;
      }
      const a = this.answerLine(line);
      if (a.fail === true) stderrListener?.(`${a.stderr}\nCommand failed -:${n}\n`);
    };
    return {
      pid: fake.pid,
      write: (data) => {
        for (const line of data.split("\n").slice(0, -1)) {
          lineNo += 1;
          fake.lines.push(line);
          const n = lineNo;
          const go = () => setImmediate(() => respond(line, n));
          if (this.hold) this.#held.push(go);
          else go();
        }
      },
      end: () => fake.crash("ip exited with code 0"),
      kill: () => fake.crash("ip was killed by SIGKILL"),
      onStderr: (l) => (stderrListener = l),
      onExit: (l) => (exitListener = l),
      ref: () => (fake.refs = 1),
      unref: () => (fake.refs = 0),
    };
  }
}
