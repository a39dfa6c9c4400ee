// runc under a root of the runner's own (`runc --root`), so that our containers and the host's
// (or another runner's) never see each other. Every call is an argv array through the injected
// Exec; errors are RuncErrors carrying what runc said (`--log-format json` makes that parseable).
// Stop kills the pause process and polls /proc for its exit instead of `runc delete --force`,
// which sleeps ~100 ms before it even looks; it finds the process in runc's state file rather
// than through `runc state`, one runc call fewer (a third of the stop + delete time here).
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import type { Exec, ExecRequest, ExecResult } from "../exec.js";
import { isAlive, type ProcessIdentity } from "errdefer/host";
import { RuncError, type RuncOperation } from "./errors.js";
import { initFromStateFile, liveIdentity, waitForExit } from "./process-exit.js";
import { doesNotExist, notRunning, runcMessage } from "./runc-output.js";
import { absolutePathProblem, containerIdProblem, signalProblem } from "./validate.js";

export type ContainerStatus = "creating" | "created" | "running" | "paused" | "stopped";
const STATUSES: readonly string[] = ["creating", "created", "running", "paused", "stopped"];

export interface ContainerState {
  readonly status: ContainerStatus;
  /** The container's init (pause) process on the host; 0 once stopped. */
  readonly pid: number;
  readonly bundle: string;
}

export interface WaitOptions {
  /** Default 10 000. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface RuncOptions {
  /** runc's state dir (`runc --root`); runc creates it on first create. */
  readonly root: string;
  readonly exec: Exec;
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

export function createRunc(options: RuncOptions): Runc {
  const { exec, root } = options;
  const runcPath = options.runcPath ?? "runc";
  const commandTimeoutMs = options.commandTimeoutMs ?? 30_000;

  const run = (args: readonly string[], extra: Pick<ExecRequest, "detached" | "signal"> = {}): Promise<ExecResult> =>
    exec({ argv: [runcPath, "--root", root, "--log-format", "json", ...args], timeoutMs: commandTimeoutMs, ...extra });

  /**
   * The RuncError for a call that did not succeed: why it did not run, else `reason`, else what
   * runc said (on stderr, or `output`: its log), else the exit code.
   */
  const failure = (
    operation: RuncOperation,
    id: string | undefined,
    r: ExecResult,
    more: { output?: string; reason?: string } = {},
  ): RuncError => {
    const output = more.output ?? r.stderr;
    const reason =
      r.failure !== undefined
        ? `${r.failure}${/ENOENT/.test(r.failure) ? " (is runc installed? Debian: apt-get install runc)" : ""}`
        : (more.reason ?? runcMessage(output) ?? `runc exited with code ${r.exitCode}`);
    return new RuncError({
      operation,
      ...(id === undefined ? { subject: root } : { id }),
      reason,
      ...(r.exitCode === undefined ? {} : { exitCode: r.exitCode }),
      stderr: output.trim(),
    });
  };
  const invalid = (operation: RuncOperation, id: string, reason: string) =>
    err(new RuncError({ operation, id, reason }));

  const waitError = (id: string, pid: number, timeoutMs: number, outcome: "timeout" | "aborted") =>
    err(
      new RuncError({
        operation: "wait",
        id,
        reason:
          outcome === "aborted"
            ? `aborted while process ${pid} was still running`
            : `process ${pid} still running after ${timeoutMs} ms`,
      }),
    );

  /** Polls until the process the state named has exited. */
  const awaitExit = async (id: string, pid: number, waited: WaitOptions): Promise<Result<void, RuncError>> => {
    const who = await liveIdentity(pid);
    if (who === undefined) return ok(undefined);
    const timeoutMs = waited.timeoutMs ?? DEFAULT_WAIT_MS;
    const outcome = await waitForExit(who, { timeoutMs, signal: waited.signal });
    return outcome === "exited" ? ok(undefined) : waitError(id, pid, timeoutMs, outcome);
  };

  /**
   * Stop without `runc state` (the state file names the process): kill, then poll. A process
   * still there after a moment may be frozen (paused), which only runc knows: then ask it, and
   * resume so that the kill lands.
   */
  const stopKnown = async (id: string, who: ProcessIdentity, waited: WaitOptions): Promise<Result<void, RuncError>> => {
    if (!(await isAlive(who))) return ok(undefined);
    const abort = waited.signal === undefined ? {} : { signal: waited.signal };
    const killed = await runc.kill(id, "KILL", abort);
    if (killed.isErr()) return err(killed.error);
    const timeoutMs = waited.timeoutMs ?? DEFAULT_WAIT_MS;
    const started = performance.now();
    const first = await waitForExit(who, { timeoutMs: Math.min(PAUSED_CHECK_MS, timeoutMs), signal: waited.signal });
    if (first === "exited") return ok(undefined);
    if (first === "aborted") return waitError(id, who.pid, timeoutMs, first);
    const s = await runc.state(id, abort);
    if (s.isErr()) return err(s.error);
    if (s.value?.status === "paused") {
      const resumed = await run(["resume", id], abort);
      if (resumed.exitCode !== 0 && !notRunning(runcMessage(resumed.stderr))) return err(failure("kill", id, resumed));
    }
    const rest = await waitForExit(who, {
      timeoutMs: Math.max(0, timeoutMs - (performance.now() - started)),
      signal: waited.signal,
    });
    return rest === "exited" ? ok(undefined) : waitError(id, who.pid, timeoutMs, rest);
  };

  const runc: Runc = {
    root,

    async create(id, bundleDir) {
      const bad = containerIdProblem(id) ?? absolutePathProblem("bundleDir", bundleDir);
      if (bad !== undefined) return invalid("create", id, bad);
      // runc hands its stdio to the container's process, so it runs with none (a pipe would stay
      // open for the container's lifetime). Its error goes to a log in the bundle instead,
      // emptied first so that an earlier attempt's error is not reported again.
      const log = path.join(bundleDir, "runc-create.log");
      try {
        await writeFile(log, "", { mode: 0o600 });
      } catch (e) {
        const reason =
          (e as NodeJS.ErrnoException).code === "ENOENT"
            ? `the bundle dir ${bundleDir} does not exist`
            : (e as Error).message;
        return invalid("create", id, reason);
      }
      const r = await run(["--log", log, "create", "--bundle", bundleDir, id], { detached: true });
      if (r.exitCode === 0) return ok(undefined);
      const logged = await readFile(log, "utf8").catch(() => "");
      return err(failure("create", id, r, { output: logged }));
    },

    async start(id) {
      const bad = containerIdProblem(id);
      if (bad !== undefined) return invalid("start", id, bad);
      const r = await run(["start", id]);
      return r.exitCode === 0 ? ok(undefined) : err(failure("start", id, r));
    },

    async state(id, opts = {}) {
      const bad = containerIdProblem(id);
      if (bad !== undefined) return invalid("state", id, bad);
      const r = await run(["state", id], opts.signal === undefined ? {} : { signal: opts.signal });
      if (r.exitCode !== 0)
        return doesNotExist(runcMessage(r.stderr)) && r.exitCode !== undefined
          ? ok(undefined)
          : err(failure("state", id, r));
      let s: { status?: unknown; pid?: unknown; bundle?: unknown };
      try {
        s = JSON.parse(r.stdout) as typeof s;
      } catch {
        return err(failure("state", id, r, { reason: "runc state printed no JSON" }));
      }
      if (typeof s.status !== "string" || !STATUSES.includes(s.status))
        return err(
          failure("state", id, r, { reason: `runc state printed an unknown status ${JSON.stringify(s.status)}` }),
        );
      return ok({
        status: s.status as ContainerStatus,
        pid: typeof s.pid === "number" ? s.pid : 0,
        bundle: typeof s.bundle === "string" ? s.bundle : "",
      });
    },

    async kill(id, signal = "KILL", opts = {}) {
      const bad = containerIdProblem(id) ?? signalProblem(signal);
      if (bad !== undefined) return invalid("kill", id, bad);
      const r = await run(["kill", id, signal], opts.signal === undefined ? {} : { signal: opts.signal });
      if (r.exitCode === 0) return ok(true);
      const said = runcMessage(r.stderr);
      if (r.exitCode !== undefined && (doesNotExist(said) || notRunning(said))) return ok(false);
      return err(failure("kill", id, r));
    },

    async waitStopped(id, waited = {}) {
      const bad = containerIdProblem(id);
      if (bad !== undefined) return invalid("wait", id, bad);
      const who = await initFromStateFile(root, id);
      if (who !== undefined) {
        const timeoutMs = waited.timeoutMs ?? DEFAULT_WAIT_MS;
        const outcome = await waitForExit(who, { timeoutMs, signal: waited.signal });
        return outcome === "exited" ? ok(undefined) : waitError(id, who.pid, timeoutMs, outcome);
      }
      const s = await runc.state(id, waited.signal === undefined ? {} : { signal: waited.signal });
      if (s.isErr()) return err(s.error);
      if (s.value === undefined || s.value.status === "stopped") return ok(undefined);
      return awaitExit(id, s.value.pid, waited);
    },

    async stop(id, waited = {}) {
      const bad = containerIdProblem(id);
      if (bad !== undefined) return invalid("kill", id, bad);
      const who = await initFromStateFile(root, id);
      if (who !== undefined) return stopKnown(id, who, waited);
      const abort = waited.signal === undefined ? {} : { signal: waited.signal };
      const s = await runc.state(id, abort);
      if (s.isErr()) return err(s.error);
      if (s.value === undefined || s.value.status === "stopped") return ok(undefined);
      const { pid, status } = s.value;
      const killed = await runc.kill(id, "KILL", abort);
      if (killed.isErr()) return err(killed.error);
      // A frozen process takes no signal until thawed.
      if (status === "paused" && killed.value) {
        const resumed = await run(["resume", id], abort);
        if (resumed.exitCode !== 0 && !notRunning(runcMessage(resumed.stderr)))
          return err(failure("kill", id, resumed));
      }
      return awaitExit(id, pid, waited);
    },

    async delete(id, opts = {}) {
      const bad = containerIdProblem(id);
      if (bad !== undefined) return invalid("delete", id, bad);
      const r = await run(["delete", id], opts.signal === undefined ? {} : { signal: opts.signal });
      if (r.exitCode === 0 || (r.exitCode !== undefined && doesNotExist(runcMessage(r.stderr)))) return ok(undefined);
      return err(failure("delete", id, r));
    },

    async list() {
      const r = await run(["list", "--format", "json"]);
      if (r.exitCode !== 0) return err(failure("list", undefined, r));
      let entries: unknown;
      try {
        entries = JSON.parse(r.stdout.trim() === "" ? "null" : r.stdout);
      } catch {
        return err(failure("list", undefined, r, { reason: "runc list printed no JSON" }));
      }
      // An empty root prints `null`.
      if (entries === null) return ok([]);
      if (!Array.isArray(entries))
        return err(failure("list", undefined, r, { reason: "runc list printed no JSON array" }));
      return ok(entries.flatMap((e: { id?: unknown }) => (typeof e?.id === "string" ? [e.id] : [])));
    },
  };
  return runc;
}
