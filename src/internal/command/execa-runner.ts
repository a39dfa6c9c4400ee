// The CommandRunner on execa, the library's dependency for running commands. Only the netns
// adapter loads this module: errdefer, errdefer/journal and errdefer/host never do.
import { execa } from "execa";
import { err, errAsync, ok, ResultAsync, type Result } from "neverthrow";
import {
  abortedFailure,
  exitDescription,
  outputLimitFailure,
  planRun,
  spawnFailure,
  timeoutFailure,
  type RunPlan,
} from "./plan.js";
import { Capture } from "./capture.js";
import { deadProcess, runningProcess } from "./running-process.js";
import type { Argv, CommandResult, CommandRunner, RunFailure, RunnerDefaults, RunOptions } from "./types.js";
import { traced } from "./trace.js";

/** The fields of execa's result this module reads. */
interface Finished {
  readonly isCanceled: boolean;
  readonly timedOut: boolean;
  readonly exitCode?: number | undefined;
  readonly signal?: string | undefined;
  readonly cause?: unknown;
}

interface Output {
  readonly stdout: Capture;
  readonly stderr: Capture;
}

function outcome(plan: RunPlan, options: RunOptions, result: Finished, out: Output): Result<CommandResult, RunFailure> {
  const { file } = plan;
  if (out.stdout.overflowed) return err(outputLimitFailure(file, "stdout", plan.maxOutputBytes));
  if (out.stderr.overflowed) return err(outputLimitFailure(file, "stderr", plan.maxOutputBytes));
  if (result.isCanceled) return err(abortedFailure(file, options.signal));
  if (result.timedOut) return err(timeoutFailure(file, plan.timeoutMs));
  // Neither exited nor killed: it never started (ENOENT, EACCES).
  if (result.exitCode === undefined && result.signal === undefined) return err(spawnFailure(file, result.cause));
  const { exitCode, signal } = result;
  return ok({ exitCode, signal, stdout: out.stdout.text(), stderr: out.stderr.text() });
}

function run(argv: Argv, options: RunOptions, defaults: RunnerDefaults): ResultAsync<CommandResult, RunFailure> {
  const plan = planRun(argv, options, defaults);
  if (plan.isErr()) return errAsync(plan.error);
  const p = plan.value;
  if (options.signal?.aborted === true) return errAsync(abortedFailure(p.file, options.signal));
  const output = options.detached === true ? ("ignore" as const) : ("pipe" as const);
  // Output is collected here, not by execa: execa puts all of it into the message of every failed
  // result, which costs seconds for megabytes of output (14 s at the 16 MiB limit).
  const subprocess = execa(p.spawnFile, p.spawnArgs, {
    reject: false,
    buffer: false,
    stdout: output,
    stderr: output,
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.input === undefined ? { stdin: "ignore" as const } : { input: options.input }),
    ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    ...(p.timeoutMs === undefined ? {} : { timeout: p.timeoutMs }),
    killSignal: "SIGTERM",
    forceKillAfterDelay: p.killGraceMs,
  });
  // execa's kill: SIGTERM, then SIGKILL after forceKillAfterDelay.
  const overflow = () => void subprocess.kill();
  const out: Output = {
    stdout: new Capture(subprocess.stdout, p.maxOutputBytes, overflow),
    stderr: new Capture(subprocess.stderr, p.maxOutputBytes, overflow),
  };
  // Once a command we killed (abort, timeout, output limit) has exited, pipes a process it left
  // behind still holds would keep execa waiting for their end: close them.
  subprocess.once("exit", () => {
    if (subprocess.killed) [subprocess.stdout, subprocess.stderr].forEach((s) => s?.destroy());
  });
  return ResultAsync.fromSafePromise(subprocess).andThen((result) => outcome(p, options, result, out));
}

function start(argv: Argv, defaults: RunnerDefaults): ReturnType<CommandRunner["start"]> {
  const plan = planRun(argv, {}, defaults);
  if (plan.isErr()) return deadProcess(plan.error.message);
  const { file, spawnFile, spawnArgs } = plan.value;
  const child = execa(spawnFile, spawnArgs, {
    reject: false,
    buffer: false,
    stdin: "pipe",
    stdout: "ignore",
    stderr: "pipe",
  });
  const exited = child.then((result) =>
    result.exitCode === undefined && result.signal === undefined
      ? spawnFailure(file, result.cause).message
      : exitDescription(file, result.exitCode ?? null, result.signal ?? null),
  );
  return runningProcess(child, exited);
}

/**
 * A {@link CommandRunner} on execa: argv arrays only (never a shell), an output limit per stream,
 * a timeout, SIGTERM then SIGKILL on abort, timeout or output limit, and no rejections. The netns
 * adapter's default. `defaults` apply to every command it starts (a call's own options win).
 */
export function execaRunner(defaults: RunnerDefaults = {}): CommandRunner {
  return traced({ run: (argv, options = {}) => run(argv, options, defaults), start: (argv) => start(argv, defaults) });
}
