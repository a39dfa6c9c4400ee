// createNetns, loadNetns and the Netns handle: create, exec in, inspect and remove one namespace.
import { constants, lstatSync } from "node:fs";
import { mkdir, open, realpath, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from "neverthrow";
import type { IpOutcome, NetnsDriver } from "./driver.js";
import { createBatchDriver } from "./driver-batch.js";
import { NetnsError, needsRoot, type NetnsErrorCode, type NetnsOperation } from "./errors.js";
import { makeSharedMountDir, mountState, unbindIdleDir } from "./mounts.js";
import { defaultDir, dirProblem, generateName, isIpDir, nameProblem, normalizeDir } from "./names.js";
import type { RunFailure } from "../internal/command/types.js";

/** Removal retries EBUSY this many times, this far apart (containerd's 50 x 50 ms). */
const busyRetries = 50;
const busyDelayMs = 50;

let sharedDriver: NetnsDriver | undefined;

/** The driver used when none is given: one shared `ip -batch` driver, started on first use. */
export function defaultDriver(): NetnsDriver {
  sharedDriver ??= createBatchDriver();
  return sharedDriver;
}

/** How `createNetns` makes the namespace: directory, driver, runner, deadline. */
export interface CreateNetnsOptions {
  /** Where the mount-point file goes. Default `/var/run/netns` (managed by `ip netns`). */
  readonly dir?: string;
  /** The namespace name. Default `cni-` + a random 8-4-4-4-12 hex id. */
  readonly name?: string;
  /** Stops the creation; a namespace already made is removed before the err is returned. */
  readonly signal?: AbortSignal;
  /** How `ip` commands run. Default: the shared fast (`ip -batch`) driver. */
  readonly driver?: NetnsDriver;
}

/** Where `loadNetns` finds an existing namespace. */
export interface LoadNetnsOptions {
  readonly driver?: NetnsDriver;
}

/** How `Netns.remove` tears the namespace down. */
export interface RemoveOptions {
  /** Stops retrying EBUSY when aborted. */
  readonly signal?: AbortSignal;
}

/** How `Netns.exec` runs a command inside the namespace. */
export interface ExecOptions {
  /** Kills the command when aborted. */
  readonly signal?: AbortSignal;
  /** Kills the command after this many ms. */
  readonly timeoutMs?: number;
  /** Written to the command's stdin. */
  readonly input?: string;
}

/** How a command run inside the namespace ended; a non-zero exit is still an ok result. */
export interface ExecResult {
  /** `undefined` when a signal killed it. */
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

type Fail = Omit<ConstructorParameters<typeof NetnsError>[0], "operation">;

function failure(operation: NetnsOperation, init: Fail): NetnsError {
  return new NetnsError({ operation, ...init });
}

/** The code and reason a failed command's stderr means. */
function fromStderr(stderr: string, fallback: string): { code: NetnsErrorCode; reason: string } {
  if (/Operation not permitted|Permission denied/.test(stderr))
    return { code: "permission", reason: `${needsRoot}: ${stderr}` };
  if (/File exists/.test(stderr)) return { code: "exists", reason: stderr };
  if (/Device or resource busy/.test(stderr)) return { code: "busy", reason: stderr };
  return { code: "command-failed", reason: stderr === "" ? fallback : stderr };
}

/** The code and reason a failed file-system call means. */
function fromErrno(error: unknown, what: string): { code: NetnsErrorCode; reason: string; cause: unknown } {
  const e = error as NodeJS.ErrnoException;
  const detail = `${what}: ${e.code ?? "error"} ${e.message}`;
  if (e.code === "EACCES" || e.code === "EPERM")
    return { code: "permission", reason: `${needsRoot}: ${detail}`, cause: error };
  if (e.code === "EEXIST") return { code: "exists", reason: `${what}: the file already exists`, cause: error };
  if (e.code === "EBUSY") return { code: "busy", reason: detail, cause: error };
  return { code: "io", reason: detail, cause: error };
}

function fromRunFailure(f: RunFailure): { code: NetnsErrorCode; reason: string; cause: unknown } {
  const code: NetnsErrorCode =
    f.reason === "aborted" ? "aborted" : f.reason === "timeout" ? "timeout" : "command-failed";
  return { code, reason: f.message, cause: f.cause };
}

function abortedError(
  operation: NetnsOperation,
  name: string | undefined,
  p: string | undefined,
  signal: AbortSignal,
): NetnsError {
  return failure(operation, { code: "aborted", reason: "aborted", name, path: p, cause: signal.reason });
}

/** Turns the async steps below into a ResultAsync; they return Results and never throw. */
function settle<T>(run: () => Promise<Result<T, NetnsError>>): ResultAsync<T, NetnsError> {
  return new ResultAsync(run());
}

/** A network namespace bind-mounted at `path`. */
export class Netns {
  /** The namespace name: the mount-point file's name. */
  readonly name: string;
  /** The directory that holds the mount-point file. */
  readonly dir: string;
  /** The mount-point path; pass it to CNI plugins, runc, `nsenter --net=`. */
  readonly path: string;
  readonly #driver: NetnsDriver;

  /** Use createNetns or loadNetns. */
  constructor(name: string, dir: string, driver: NetnsDriver) {
    this.name = name;
    this.dir = dir;
    this.path = path.join(dir, name);
    this.#driver = driver;
  }

  /**
   * Remove unmounts the namespace (detaching it) and deletes its file. It is idempotent: a
   * missing file or one that is not mounted is done. EBUSY is retried 50 times, 50 ms apart.
   */
  remove(options: RemoveOptions = {}): ResultAsync<void, NetnsError> {
    return settle(async () => {
      if (isIpDir(this.dir)) return this.#removeWithIp(options.signal);
      const removed = await this.#removeFile(options.signal);
      // The last namespace of a custom dir gone: its shared bind mount goes too (not /run/netns's,
      // which ip keeps for ever).
      // Never while this process is creating one there: it may be past prepareDir, not yet mounted.
      if (removed.isOk() && !creating.has(this.dir)) await unbindIdleDir(this.dir, this.#driver.runner);
      return removed;
    });
  }

  async #removeWithIp(signal: AbortSignal | undefined): Promise<Result<void, NetnsError>> {
    for (let attempt = 0; ; attempt += 1) {
      const outcome = await this.#driver.ip(["netns", "del", this.name]);
      if (outcome.kind === "lost") return err(this.#error("remove", { code: "driver-lost", reason: outcome.reason }));
      // ip unmounts (ignoring "not mounted") and then unlinks; a missing file means done.
      if (!outcome.failed || outcome.stderr.includes("No such file or directory")) return ok(undefined);
      const meaning = fromStderr(outcome.stderr, "ip netns del failed");
      if (meaning.code !== "busy" || attempt + 1 >= busyRetries) {
        return err(this.#error("remove", { ...meaning, exitCode: outcome.exitCode, stderr: outcome.stderr }));
      }
      if (signal?.aborted) return err(abortedError("remove", this.name, this.path, signal));
      await sleep(busyDelayMs);
    }
  }

  async #removeFile(signal: AbortSignal | undefined): Promise<Result<void, NetnsError>> {
    for (let attempt = 0; ; attempt += 1) {
      const state = await mountState(this.path);
      if (state.isErr()) return err(this.#error("remove", fromErrno(state.error, `statfs ${this.path}`)));
      if (state.value === "missing") return ok(undefined);
      let busy: NetnsError | undefined;
      if (state.value === "mounted") {
        // --lazy is MNT_DETACH: processes still inside keep the namespace, the path lets go now.
        const run = await this.#driver.runner.run(["umount", "--lazy", this.path]);
        if (run.isErr()) return err(this.#error("remove", fromRunFailure(run.error)));
        const { exitCode, stderr } = run.value;
        const text = stderr.trim();
        if (exitCode !== 0 && !text.includes("not mounted")) {
          const meaning = fromStderr(text, `umount exited with code ${exitCode}`);
          const error = this.#error("remove", { ...meaning, exitCode, stderr: text });
          if (meaning.code !== "busy") return err(error);
          busy = error;
        }
      }
      if (busy === undefined) {
        const removed = await ResultAsync.fromPromise(unlink(this.path), (e) => e as NodeJS.ErrnoException);
        if (removed.isOk() || removed.error.code === "ENOENT") return ok(undefined);
        const error = this.#error("remove", fromErrno(removed.error, `unlink ${this.path}`));
        if (removed.error.code !== "EBUSY") return err(error);
        busy = error;
      }
      if (attempt + 1 >= busyRetries) return err(busy);
      if (signal?.aborted) return err(abortedError("remove", this.name, this.path, signal));
      await sleep(busyDelayMs);
    }
  }

  /** IsClosed reports whether the path is gone or no longer a namespace mount; it changes nothing. */
  isClosed(): ResultAsync<boolean, NetnsError> {
    return mountState(this.path)
      .map((state) => state !== "mounted")
      .mapErr((e) => this.#error("inspect", fromErrno(e, `statfs ${this.path}`)));
  }

  /**
   * Exec runs `argv` inside the namespace (`ip netns exec` under /var/run/netns, `nsenter --net`
   * elsewhere) and returns how it ended; a non-zero exit is an ok result, not an err.
   */
  exec(argv: readonly string[], options: ExecOptions = {}): ResultAsync<ExecResult, NetnsError> {
    const bad = argvProblem(argv);
    if (bad !== undefined)
      return errAsync(this.#error("exec", { code: "invalid-argument", reason: `invalid argv: ${bad}` }));
    const [file, ...args] = argv as [string, ...string[]];
    const command = isIpDir(this.dir)
      ? (["ip", "netns", "exec", this.name, file, ...args] as const)
      : (["nsenter", `--net=${this.path}`, "--", file, ...args] as const);
    return mountState(this.path)
      .mapErr((e) => this.#error("exec", fromErrno(e, `statfs ${this.path}`)))
      .andThen((state) =>
        state === "mounted"
          ? okAsync(undefined)
          : errAsync(
              this.#error("exec", {
                code: "closed",
                reason: `${this.path} is ${state === "missing" ? "missing" : "not mounted"}`,
              }),
            ),
      )
      .andThen(() =>
        this.#driver.runner
          .run(command, { signal: options.signal, timeoutMs: options.timeoutMs, input: options.input })
          .mapErr((f) => this.#error("exec", fromRunFailure(f))),
      )
      .map((r): ExecResult => ({ exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr }));
  }

  /** Removes the namespace at the end of an `await using` block; throws the NetnsError if it fails. */
  async [Symbol.asyncDispose](): Promise<void> {
    const removed = await this.remove();
    if (removed.isErr()) throw removed.error;
  }

  #error(operation: NetnsOperation, init: Omit<Fail, "name" | "path">): NetnsError {
    return failure(operation, { ...init, name: this.name, path: this.path });
  }
}

function argvProblem(argv: unknown): string | undefined {
  if (!Array.isArray(argv) || argv.length === 0) return "must be a non-empty array of strings";
  const i = argv.findIndex((a) => typeof a !== "string" || a.includes("\0"));
  if (i >= 0) return `argv[${i}] must be a string without NUL bytes`;
  if (argv[0] === "") return "argv[0] must not be empty";
  return undefined;
}

/** Whether the name and dir options are usable; the reason names the field. */
function validate(options: CreateNetnsOptions): { name: string; generated: boolean; dir: string } | NetnsError {
  const dirIssue = options.dir === undefined ? undefined : dirProblem(options.dir);
  if (dirIssue !== undefined) {
    return failure("create", {
      code: "invalid-argument",
      name: options.name,
      reason: `invalid dir ${JSON.stringify(options.dir)}: ${dirIssue}`,
    });
  }
  const nameIssue = options.name === undefined ? undefined : nameProblem(options.name);
  if (nameIssue !== undefined) {
    return failure("create", {
      code: "invalid-argument",
      reason: `invalid name ${JSON.stringify(options.name)}: ${nameIssue}`,
    });
  }
  return {
    name: options.name ?? generateName(),
    generated: options.name === undefined,
    dir: options.dir === undefined ? defaultDir : normalizeDir(options.dir),
  };
}

/**
 * CreateNetns creates a network namespace and bind-mounts it at `dir/name`; the file is created
 * exclusively, and if a later step fails the half-made namespace is removed before the err.
 */
export function createNetns(options: CreateNetnsOptions = {}): ResultAsync<Netns, NetnsError> {
  const valid = validate(options);
  if (valid instanceof NetnsError) return errAsync(valid);
  const { name, generated, dir } = valid;
  const driver = options.driver ?? defaultDriver();
  const signal = options.signal;
  if (signal?.aborted) return errAsync(abortedError("create", name, path.join(dir, name), signal));
  const ns = new Netns(name, dir, driver);
  return settle(async () => {
    const made = isIpDir(dir) ? await createWithIp(ns, generated, driver) : await createInDir(ns, driver);
    if (made.isErr()) return err(made.error);
    if (signal?.aborted) {
      await ns.remove();
      return err(abortedError("create", name, ns.path, signal));
    }
    return ok(ns);
  });
}

async function createWithIp(ns: Netns, generated: boolean, driver: NetnsDriver): Promise<Result<void, NetnsError>> {
  const fail = (init: Omit<Fail, "name" | "path">) => err(failure("create", { ...init, name: ns.name, path: ns.path }));
  // A caller's name may already be someone else's namespace; only then must a lost answer not remove it.
  // A synchronous lstat: /run is tmpfs, and a thread-pool round trip here costs a tenth of a pair.
  const preexisting = !generated && lstatSync(ns.path, { throwIfNoEntry: false }) !== undefined;
  // ip creates the file exclusively, mounts, and itself removes the file if the mount fails.
  const outcome: IpOutcome = await driver.ip(["netns", "add", ns.name]);
  if (outcome.kind === "lost") {
    // The line may or may not have run: remove what it may have made.
    if (!preexisting) await ns.remove();
    return fail({ code: "driver-lost", reason: outcome.reason });
  }
  if (!outcome.failed) return ok(undefined);
  return fail({
    ...fromStderr(outcome.stderr, "ip netns add failed"),
    exitCode: outcome.exitCode,
    stderr: outcome.stderr,
  });
}

/** Concurrent creations in one dir share one propagation setup, so it is never bind-mounted twice. */
const preparing = new Map<string, ResultAsync<void, NetnsError>>();

function prepareDir(dir: string, ns: Netns, driver: NetnsDriver): ResultAsync<void, NetnsError> {
  const running = preparing.get(dir);
  if (running !== undefined) return running;
  const prepared = ResultAsync.fromPromise(mkdir(dir, { recursive: true, mode: 0o755 }), (e) =>
    failure("create", { ...fromErrno(e, `mkdir ${dir}`), name: ns.name, path: ns.path }),
  )
    .andThen(() =>
      // mountinfo and the mount commands see through symlinks: refuse a dir that goes through one.
      ResultAsync.fromPromise(realpath(dir), (e) =>
        failure("create", { ...fromErrno(e, `realpath ${dir}`), name: ns.name, path: ns.path }),
      ).andThen((real) =>
        real === dir
          ? okAsync(undefined)
          : errAsync(
              failure("create", {
                code: "invalid-argument",
                name: ns.name,
                path: ns.path,
                reason: `invalid dir ${JSON.stringify(dir)}: must not go through a symlink (it resolves to ${real})`,
              }),
            ),
      ),
    )
    .andThen(() =>
      makeSharedMountDir(dir, driver.runner).mapErr((f) =>
        f.kind === "io"
          ? failure("create", { ...fromErrno(f.cause, "read /proc/self/mountinfo"), name: ns.name, path: ns.path })
          : failure("create", {
              ...fromStderr(f.stderr, f.message),
              reason: `${f.argv.join(" ")}: ${fromStderr(f.stderr, f.message).reason}`,
              exitCode: f.exitCode,
              stderr: f.stderr,
              name: ns.name,
              path: ns.path,
            }),
      ),
    );
  const shared = new ResultAsync(
    (async () => {
      const result = await prepared;
      preparing.delete(dir);
      return result;
    })(),
  );
  preparing.set(dir, shared);
  return shared;
}

/** Creations under way in custom dirs, per dir: a removal does not unbind a dir while one is. */
const creating = new Map<string, number>();

async function createInDir(ns: Netns, driver: NetnsDriver): Promise<Result<void, NetnsError>> {
  creating.set(ns.dir, (creating.get(ns.dir) ?? 0) + 1);
  try {
    return await createInDirNow(ns, driver);
  } finally {
    const left = (creating.get(ns.dir) ?? 1) - 1;
    if (left === 0) creating.delete(ns.dir);
    else creating.set(ns.dir, left);
  }
}

/**
 * The dir, opened and checked to be the very dir it names (a parent swapped for a symlink before
 * the open shows as another path). Created and mounted through `/proc/<pid>/fd/<fd>/<name>`, the
 * namespace file lands in this directory even if a parent is swapped afterwards.
 */
async function openDir(ns: Netns): Promise<Result<FileHandle, NetnsError>> {
  const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
  const opened = await ResultAsync.fromPromise(open(ns.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW), (e) => e);
  if (opened.isErr()) return err(failure("create", { ...fromErrno(opened.error, `open ${ns.dir}`), name: ns.name }));
  const real = await realpath(`/proc/self/fd/${opened.value.fd}`).catch(() => "(unknown)");
  if (real === ns.dir) return ok(opened.value);
  await opened.value.close();
  return err(
    failure("create", {
      code: "invalid-argument",
      name: ns.name,
      path: ns.path,
      reason: `invalid dir ${JSON.stringify(ns.dir)}: must not go through a symlink (it resolves to ${real})`,
    }),
  );
}

async function createInDirNow(ns: Netns, driver: NetnsDriver): Promise<Result<void, NetnsError>> {
  const prepared = await prepareDir(ns.dir, ns, driver);
  if (prepared.isErr()) return err(prepared.error);
  const dir = await openDir(ns);
  if (dir.isErr()) return err(dir.error);
  try {
    return await createThrough(ns, `/proc/${process.pid}/fd/${dir.value.fd}/${ns.name}`, driver);
  } finally {
    await dir.value.close();
  }
}

/** Creates the file at `at` (ns.path, through the dir's descriptor) and mounts a new namespace on it. */
async function createThrough(ns: Netns, at: string, driver: NetnsDriver): Promise<Result<void, NetnsError>> {
  const fail = (init: Omit<Fail, "name" | "path">) => err(failure("create", { ...init, name: ns.name, path: ns.path }));
  const file = await ResultAsync.fromPromise(open(at, "wx", 0o000), (e) => e);
  if (file.isErr()) return fail(fromErrno(file.error, `create ${ns.path}`));
  await file.value.close();
  // From here on the file is ours: any failure removes it before returning.
  const run = await driver.runner.run(["unshare", `--net=${at}`, "--", "true"]);
  const failed = run.isErr()
    ? fromRunFailure(run.error)
    : run.value.exitCode === 0
      ? undefined
      : {
          ...fromStderr(run.value.stderr.trim(), `unshare exited with code ${run.value.exitCode}`),
          exitCode: run.value.exitCode,
          stderr: run.value.stderr.trim(),
        };
  if (failed === undefined) return ok(undefined);
  const removed = await ns.remove();
  if (removed.isErr()) {
    return fail({
      ...failed,
      reason: `${failed.reason} (and removing the half-made namespace failed: ${removed.error.reason})`,
    });
  }
  return fail(failed);
}

/** LoadNetns wraps an existing mount-point path without any I/O (for recovery). */
export function loadNetns(nsPath: string, options: LoadNetnsOptions = {}): Result<Netns, NetnsError> {
  const dir = typeof nsPath === "string" ? path.dirname(nsPath) : "";
  const name = typeof nsPath === "string" ? path.basename(nsPath) : "";
  let issue = dirProblem(nsPath);
  if (issue === undefined && path.resolve(nsPath) !== nsPath) issue = "must be a normalized absolute path";
  const nameIssue = issue === undefined ? nameProblem(name) : undefined;
  if (nameIssue !== undefined) issue = `its file name ${nameIssue}`;
  if (issue !== undefined) {
    return err(
      failure("load", {
        code: "invalid-argument",
        path: String(nsPath),
        reason: `invalid path ${JSON.stringify(nsPath)}: ${issue}`,
      }),
    );
  }
  return ok(new Netns(name, dir, options.driver ?? defaultDriver()));
}
