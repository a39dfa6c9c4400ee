// The CommandRunner on bare node:child_process. It exists for one reason: it costs the calling
// process less CPU per command than execa (see `npm run bench -- command`), which matters to
// callers that start many short commands (the sandbox runner: CNI plugins, runc).
import { spawn, type ChildProcess } from "node:child_process";
import { err, errAsync, ok, ResultAsync, type Result } from "neverthrow";
import {
  abortedFailure,
  childEnv,
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

type Outcome = Result<CommandResult, RunFailure>;
type Ending = "aborted" | "timeout" | "output-limit";

/**
 * Runs one command to its end. Whatever ends it early (abort, timeout, output limit) sends
 * SIGTERM, then SIGKILL after the grace period; once the command has exited, pipes a process it
 * left behind still holds are closed, so that the call returns.
 */
function supervise(plan: RunPlan, options: RunOptions, done: (outcome: Outcome) => void): void {
  let child: ChildProcess;
  try {
    child = spawn(plan.spawnFile, plan.spawnArgs, {
      env: childEnv(options),
      stdio: [options.input === undefined ? "ignore" : "pipe", ...outputs(options)],
    });
  } catch (e) {
    return done(err(spawnFailure(plan.file, e)));
  }
  let ending: { why: Ending; stream?: "stdout" | "stderr" } | undefined;
  let startError: unknown;
  let forceKill: NodeJS.Timeout | undefined;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const closePipes = () => [child.stdout, child.stderr].forEach((s) => s?.destroy());
  const end = (why: Ending, stream?: "stdout" | "stderr") => {
    if (ending !== undefined) return;
    ending = { why, ...(stream === undefined ? {} : { stream }) };
    if (exited()) return closePipes();
    child.kill("SIGTERM");
    forceKill = setTimeout(() => child.kill("SIGKILL"), plan.killGraceMs).unref();
  };
  const stdout = new Capture(child.stdout, plan.maxOutputBytes, () => end("output-limit", "stdout"));
  const stderr = new Capture(child.stderr, plan.maxOutputBytes, () => end("output-limit", "stderr"));
  const onAbort = () => end("aborted");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const timer = plan.timeoutMs === undefined ? undefined : setTimeout(() => end("timeout"), plan.timeoutMs);
  if (options.input !== undefined && child.stdin !== null) {
    // A command that exits without reading its stdin: EPIPE is not a failure, its exit says it all.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input);
  }
  child.on("error", (e) => (startError ??= e));
  child.on("exit", () => {
    clearTimeout(forceKill);
    if (ending !== undefined) closePipes();
  });
  child.on("close", (code, signal) => {
    options.signal?.removeEventListener("abort", onAbort);
    clearTimeout(timer);
    clearTimeout(forceKill);
    if (startError !== undefined && child.pid === undefined) return done(err(spawnFailure(plan.file, startError)));
    if (ending?.why === "aborted") return done(err(abortedFailure(plan.file, options.signal)));
    if (ending?.why === "timeout") return done(err(timeoutFailure(plan.file, plan.timeoutMs)));
    if (ending !== undefined) return done(err(outputLimitFailure(plan.file, ending.stream!, plan.maxOutputBytes)));
    done(
      ok({ exitCode: code ?? undefined, signal: signal ?? undefined, stdout: stdout.text(), stderr: stderr.text() }),
    );
  });
}

function outputs(options: RunOptions): ["ignore" | "pipe", "ignore" | "pipe"] {
  return options.detached === true ? ["ignore", "ignore"] : ["pipe", "pipe"];
}

function run(argv: Argv, options: RunOptions, defaults: RunnerDefaults): ResultAsync<CommandResult, RunFailure> {
  const plan = planRun(argv, options, defaults);
  if (plan.isErr()) return errAsync(plan.error);
  if (options.signal?.aborted === true) return errAsync(abortedFailure(plan.value.file, options.signal));
  return new ResultAsync(new Promise<Outcome>((resolve) => supervise(plan.value, options, resolve)));
}

function start(argv: Argv, defaults: RunnerDefaults): ReturnType<CommandRunner["start"]> {
  const plan = planRun(argv, {}, defaults);
  if (plan.isErr()) return deadProcess(plan.error.message);
  const { file, spawnFile, spawnArgs } = plan.value;
  let child: ChildProcess;
  try {
    child = spawn(spawnFile, spawnArgs, { stdio: ["pipe", "ignore", "pipe"] });
  } catch (e) {
    return deadProcess(spawnFailure(file, e).message);
  }
  const exited = new Promise<string>((resolve) => {
    let startError: unknown;
    child.on("error", (e) => (startError ??= e));
    child.on("close", (code, signal) =>
      resolve(
        startError !== undefined && child.pid === undefined
          ? spawnFailure(file, startError).message
          : exitDescription(file, code, signal),
      ),
    );
  });
  return runningProcess(child, exited);
}

/**
 * A {@link CommandRunner} on bare node:child_process: argv arrays only (never a shell), an output
 * limit per stream, a timeout, SIGTERM then SIGKILL on abort, timeout or output limit, and no
 * rejections. It behaves as the netns adapter's `execaRunner` does (one contract test table runs
 * against both) and costs the calling process less CPU per command. `defaults` apply to every
 * command it starts (a call's own options win).
 */
export function spawnRunner(defaults: RunnerDefaults = {}): CommandRunner {
  return traced({ run: (argv, options = {}) => run(argv, options, defaults), start: (argv) => start(argv, defaults) });
}
