// runc under a root of the runner's own (`runc --root`), so that our containers and the host's
// (or another runner's) never see each other. Every call is an argv array through the injected
// CommandRunner; errors are RuncErrors carrying what runc said (`--log-format json` makes that parseable).
// Stop kills the pause process and polls /proc for its exit instead of `runc delete --force`,
// which sleeps ~100 ms before it even looks; it finds the process in runc's state file rather
// than through `runc state`, one runc call fewer (a third of the stop + delete time here).
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { isAlive, type CommandResult, type CommandRunner, type ProcessIdentity, type RunFailure } from "errdefer/host";
import { err, ok, type Result } from "neverthrow";
import { RuncError, type RuncOperation } from "./errors.js";
import { initFromStateFile, liveIdentity, waitForExit } from "./process-exit.js";
import { doesNotExist, notRunning, parseList, parseState, runcMessage, type ContainerState } from "./runc-output.js";
import { absolutePathProblem, containerIdProblem, signalProblem } from "./validate.js";

export type { ContainerState, ContainerStatus } from "./runc-output.js";

export interface WaitOptions {
  /** Default 10 000. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface RuncOptions {
  /** runc's state dir (`runc --root`); runc creates it on first create. */
  readonly root: string;
  /** How runc is run (errdefer/host's spawnRunner in the runner). */
  readonly exec: CommandRunner;
  /** Default "runc" (looked up on PATH). */
  readonly runcPath?: string;
  /** Limit for each runc invocation; default 30 000 ms (runc can hang on a stuck mount or fifo). */
  readonly commandTimeoutMs?: number;
}

export interface Runc {
  readonly root: string;
  /** `runc create`: the container exists, its process waits for start. The bundle dir must exist. */
  create(id: string, bundleDir: string): Promise<Result<void, RuncError>>;
  start(id: string): Promise<Result<void, RuncError>>;
  /** `runc run --detach`: create + start in one process; killed part-way, it leaves what create does. */
  run(id: string, bundleDir: string): Promise<Result<void, RuncError>>;
  /** undefined when no container has this id under our root. */
  state(
    id: string,
    options?: { readonly signal?: AbortSignal },
  ): Promise<Result<ContainerState | undefined, RuncError>>;
  /** Sends a signal (default KILL); false when the container was not running or does not exist. */
  kill(id: string, signal?: string, options?: { readonly signal?: AbortSignal }): Promise<Result<boolean, RuncError>>;
  /** Resolves once the container is stopped (a zombie counts) or gone; no signal is sent. */
  waitStopped(id: string, options?: WaitOptions): Promise<Result<void, RuncError>>;
  /** SIGKILL and wait for the exit. Idempotent: a stopped or missing container is success. */
  stop(id: string, options?: WaitOptions): Promise<Result<void, RuncError>>;
  /** `runc delete` of a stopped container. Idempotent: a missing container is success. */
  delete(id: string, options?: { readonly signal?: AbortSignal }): Promise<Result<void, RuncError>>;
  /** The ids of every container under our root (for gc). */
  list(): Promise<Result<string[], RuncError>>;
}

const DEFAULT_WAIT_MS = 10_000;
/** How long a killed process may take before stop asks runc whether it is paused (frozen). */
const PAUSED_CHECK_MS = 50;

/** How one runc call ended: an exit code and what runc said, or why it did not run to one. */
interface RuncCall {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when runc did not exit by itself: it could not start, timed out, was aborted or killed. */
  readonly failure?: string;
}

function settle(outcome: Result<CommandResult, RunFailure>): RuncCall {
  if (outcome.isErr()) return { exitCode: undefined, stdout: "", stderr: "", failure: outcome.error.message };
  const r = outcome.value;
  return r.exitCode === undefined ? { ...r, failure: `runc was killed by ${r.signal}` } : r;
}

const abortable = (signal: AbortSignal | undefined) => (signal === undefined ? {} : { signal });

const invalid = (operation: RuncOperation, id: string, reason: string) => err(new RuncError({ operation, id, reason }));

function waitError(id: string, pid: number, timeoutMs: number, outcome: "timeout" | "aborted") {
  return err(
    new RuncError({
      operation: "wait",
      id,
      reason:
        outcome === "aborted"
          ? `aborted while process ${pid} was still running`
          : `process ${pid} still running after ${timeoutMs} ms`,
    }),
  );
}

class RuncCli implements Runc {
  readonly root: string;
  readonly #exec: CommandRunner;
  readonly #runcPath: string;
  readonly #timeoutMs: number;

  constructor(options: RuncOptions) {
    this.root = options.root;
    this.#exec = options.exec;
    this.#runcPath = options.runcPath ?? "runc";
    this.#timeoutMs = options.commandTimeoutMs ?? 30_000;
  }

  async #run(args: readonly string[], extra: { detached?: true; signal?: AbortSignal } = {}): Promise<RuncCall> {
    const argv = [this.#runcPath, "--root", this.root, "--log-format", "json", ...args] as const;
    // dieWithParent: runc dies with a killed runner (the container it made does not: the setting
    // is not inherited by what runc starts).
    return settle(await this.#exec.run(argv, { timeoutMs: this.#timeoutMs, dieWithParent: true, ...extra }));
  }

  /**
   * The RuncError for a call that did not succeed: why it did not run, else `reason`, else what
   * runc said (on stderr, or `output`: its log), else the exit code.
   */
  #failure(
    operation: RuncOperation,
    id: string | undefined,
    r: RuncCall,
    more: { output?: string; reason?: string } = {},
  ): RuncError {
    const output = more.output ?? r.stderr;
    const reason =
      r.failure !== undefined
        ? `${r.failure}${/ENOENT/.test(r.failure) ? " (is runc installed? Debian: apt-get install runc)" : ""}`
        : (more.reason ?? runcMessage(output) ?? `runc exited with code ${r.exitCode}`);
    return new RuncError({
      operation,
      ...(id === undefined ? { subject: this.root } : { id }),
      reason,
      ...(r.exitCode === undefined ? {} : { exitCode: r.exitCode }),
      stderr: output.trim(),
    });
  }

  create = (id: string, bundleDir: string): Promise<Result<void, RuncError>> => this.#launch("create", id, bundleDir);
  run = (id: string, bundleDir: string): Promise<Result<void, RuncError>> => this.#launch("run", id, bundleDir);

  /** `runc create`, or `runc run --detach` (create + start in one process). */
  async #launch(operation: "create" | "run", id: string, bundleDir: string): Promise<Result<void, RuncError>> {
    const bad = containerIdProblem(id) ?? absolutePathProblem("bundleDir", bundleDir);
    if (bad !== undefined) return invalid(operation, id, bad);
    // runc hands its stdio to the container's process, so it runs with none (a pipe would stay
    // open for the container's lifetime). Its error goes to a log in the bundle instead,
    // emptied first so that an earlier attempt's error is not reported again.
    const log = path.join(bundleDir, "runc-create.log");
    const unwritable = await writeFile(log, "", { mode: 0o600 }).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? `the bundle dir ${bundleDir} does not exist` : e.message),
    );
    if (unwritable !== undefined) return invalid(operation, id, unwritable);
    const command = operation === "run" ? ["run", "--detach"] : ["create"];
    const r = await this.#run(["--log", log, ...command, "--bundle", bundleDir, id], { detached: true });
    if (r.exitCode === 0) return ok(undefined);
    const logged = await readFile(log, "utf8").catch(() => "");
    return err(this.#failure(operation, id, r, { output: logged }));
  }

  async start(id: string): Promise<Result<void, RuncError>> {
    const bad = containerIdProblem(id);
    if (bad !== undefined) return invalid("start", id, bad);
    const r = await this.#run(["start", id]);
    return r.exitCode === 0 ? ok(undefined) : err(this.#failure("start", id, r));
  }

  async state(
    id: string,
    opts: { readonly signal?: AbortSignal } = {},
  ): Promise<Result<ContainerState | undefined, RuncError>> {
    const bad = containerIdProblem(id);
    if (bad !== undefined) return invalid("state", id, bad);
    const r = await this.#run(["state", id], abortable(opts.signal));
    if (r.exitCode !== 0)
      return doesNotExist(runcMessage(r.stderr)) && r.exitCode !== undefined
        ? ok(undefined)
        : err(this.#failure("state", id, r));
    const state = parseState(r.stdout);
    return typeof state === "string" ? err(this.#failure("state", id, r, { reason: state })) : ok(state);
  }

  async kill(
    id: string,
    signal = "KILL",
    opts: { readonly signal?: AbortSignal } = {},
  ): Promise<Result<boolean, RuncError>> {
    const bad = containerIdProblem(id) ?? signalProblem(signal);
    if (bad !== undefined) return invalid("kill", id, bad);
    const r = await this.#run(["kill", id, signal], abortable(opts.signal));
    if (r.exitCode === 0) return ok(true);
    const said = runcMessage(r.stderr);
    if (r.exitCode !== undefined && (doesNotExist(said) || notRunning(said))) return ok(false);
    return err(this.#failure("kill", id, r));
  }

  async waitStopped(id: string, waited: WaitOptions = {}): Promise<Result<void, RuncError>> {
    const bad = containerIdProblem(id);
    if (bad !== undefined) return invalid("wait", id, bad);
    const who = await initFromStateFile(this.root, id);
    if (who !== undefined) {
      const timeoutMs = waited.timeoutMs ?? DEFAULT_WAIT_MS;
      const outcome = await waitForExit(who, { timeoutMs, signal: waited.signal });
      return outcome === "exited" ? ok(undefined) : waitError(id, who.pid, timeoutMs, outcome);
    }
    const s = await this.state(id, abortable(waited.signal));
    if (s.isErr()) return err(s.error);
    if (s.value === undefined || s.value.status === "stopped") return ok(undefined);
    return this.#awaitExit(id, s.value.pid, waited);
  }

  async stop(id: string, waited: WaitOptions = {}): Promise<Result<void, RuncError>> {
    const bad = containerIdProblem(id);
    if (bad !== undefined) return invalid("kill", id, bad);
    const who = await initFromStateFile(this.root, id);
    if (who !== undefined) return this.#stopKnown(id, who, waited);
    const abort = abortable(waited.signal);
    const s = await this.state(id, abort);
    if (s.isErr()) return err(s.error);
    if (s.value === undefined || s.value.status === "stopped") return ok(undefined);
    const { pid, status } = s.value;
    const killed = await this.kill(id, "KILL", abort);
    if (killed.isErr()) return err(killed.error);
    // A frozen process takes no signal until thawed.
    if (status === "paused" && killed.value) {
      const resumed = await this.#resume(id, abort);
      if (resumed.isErr()) return resumed;
    }
    return this.#awaitExit(id, pid, waited);
  }

  async delete(id: string, opts: { readonly signal?: AbortSignal } = {}): Promise<Result<void, RuncError>> {
    const bad = containerIdProblem(id);
    if (bad !== undefined) return invalid("delete", id, bad);
    const r = await this.#run(["delete", id], abortable(opts.signal));
    if (r.exitCode === 0 || (r.exitCode !== undefined && doesNotExist(runcMessage(r.stderr)))) return ok(undefined);
    return err(this.#failure("delete", id, r));
  }

  async list(): Promise<Result<string[], RuncError>> {
    const r = await this.#run(["list", "--format", "json"]);
    if (r.exitCode !== 0) return err(this.#failure("list", undefined, r));
    const ids = parseList(r.stdout);
    return typeof ids === "string" ? err(this.#failure("list", undefined, r, { reason: ids })) : ok(ids);
  }

  /** `runc resume`, so that a kill sent to a frozen process lands; one no longer running is fine. */
  async #resume(id: string, abort: { signal?: AbortSignal }): Promise<Result<void, RuncError>> {
    const resumed = await this.#run(["resume", id], abort);
    if (resumed.exitCode !== 0 && !notRunning(runcMessage(resumed.stderr)))
      return err(this.#failure("kill", id, resumed));
    return ok(undefined);
  }

  /** Polls until the process the state named has exited. */
  async #awaitExit(id: string, pid: number, waited: WaitOptions): Promise<Result<void, RuncError>> {
    const who = await liveIdentity(pid);
    if (who === undefined) return ok(undefined);
    const timeoutMs = waited.timeoutMs ?? DEFAULT_WAIT_MS;
    const outcome = await waitForExit(who, { timeoutMs, signal: waited.signal });
    return outcome === "exited" ? ok(undefined) : waitError(id, pid, timeoutMs, outcome);
  }

  /**
   * Stop without `runc state` (the state file names the process): kill, then poll. A process
   * still there after a moment may be frozen (paused), which only runc knows: then ask it, and
   * resume so that the kill lands.
   */
  async #stopKnown(id: string, who: ProcessIdentity, waited: WaitOptions): Promise<Result<void, RuncError>> {
    if (!(await isAlive(who))) return ok(undefined);
    const abort = abortable(waited.signal);
    const killed = await this.kill(id, "KILL", abort);
    if (killed.isErr()) return err(killed.error);
    const timeoutMs = waited.timeoutMs ?? DEFAULT_WAIT_MS;
    const started = performance.now();
    const first = await waitForExit(who, { timeoutMs: Math.min(PAUSED_CHECK_MS, timeoutMs), signal: waited.signal });
    if (first === "exited") return ok(undefined);
    if (first === "aborted") return waitError(id, who.pid, timeoutMs, first);
    const s = await this.state(id, abort);
    if (s.isErr()) return err(s.error);
    if (s.value?.status === "paused") {
      const resumed = await this.#resume(id, abort);
      if (resumed.isErr()) return resumed;
    }
    const rest = await waitForExit(who, {
      timeoutMs: Math.max(0, timeoutMs - (performance.now() - started)),
      signal: waited.signal,
    });
    return rest === "exited" ? ok(undefined) : waitError(id, who.pid, timeoutMs, rest);
  }
}

export function createRunc(options: RuncOptions): Runc {
  return new RuncCli(options);
}
