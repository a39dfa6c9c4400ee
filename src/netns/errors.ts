// NetnsError: the one error every netns operation returns, with a brand-symbol guard.
import { brand } from "../internal/brand.js";

/** The operation that failed; the message starts with it ("failed to create network namespace ..."). */
export type NetnsOperation = "create" | "load" | "remove" | "inspect" | "exec" | "list" | "sweep";

/**
 * Why it failed, for callers that branch on it.
 * - `invalid-argument`: a bad name, dir, prefix or argv, rejected before any command ran.
 * - `permission`: the kernel said EPERM/EACCES; root (CAP_SYS_ADMIN) is needed.
 * - `exists`: the mount-point file already exists (create is exclusive).
 * - `closed`: exec on a namespace that is not mounted any more.
 * - `busy`: removal still hit EBUSY after every retry.
 * - `driver-lost`: the `ip -batch` process died (or never started) with the operation in flight.
 * - `aborted`: the caller's signal fired; any half-made namespace was removed first.
 * - `timeout`: a command ran past its deadline.
 * - `command-failed`: a command exited non-zero for another reason (see `stderr`, `exitCode`).
 * - `io`: a file-system call failed (see `cause`).
 */
export type NetnsErrorCode =
  | "invalid-argument"
  | "permission"
  | "exists"
  | "closed"
  | "busy"
  | "driver-lost"
  | "aborted"
  | "timeout"
  | "command-failed"
  | "io";

const netnsErrorBrand = brand("NetnsError");

const verbs: Record<NetnsOperation, string> = {
  create: "create",
  load: "load",
  remove: "remove",
  inspect: "inspect",
  exec: "exec in",
  list: "list",
  sweep: "sweep",
};

/** What a `NetnsError` is built from. */
export interface NetnsErrorInit {
  readonly operation: NetnsOperation;
  readonly code: NetnsErrorCode;
  /** What went wrong, appended after the action: "failed to create network namespace x: <reason>". */
  readonly reason: string;
  readonly name?: string | undefined;
  readonly path?: string | undefined;
  readonly exitCode?: number | undefined;
  readonly stderr?: string | undefined;
  readonly cause?: unknown;
}

/** An error of a netns operation; the message starts with the action and names the namespace. */
export class NetnsError extends Error {
  override readonly name = "NetnsError";
  readonly operation: NetnsOperation;
  readonly code: NetnsErrorCode;
  /** The namespace name, `undefined` when the operation had none (list, sweep) or it was invalid. */
  readonly netnsName: string | undefined;
  /** The mount-point path (or the directory for list and sweep), `undefined` when not known. */
  readonly path: string | undefined;
  /** The exit code of the failing command, `undefined` when no command exited. */
  readonly exitCode: number | undefined;
  /** The failing command's stderr, trimmed; `undefined` when no command ran. */
  readonly stderr: string | undefined;
  /** The short reason, without the action prefix. */
  readonly reason: string;

  constructor(init: NetnsErrorInit) {
    const object = init.name ?? init.path;
    const plural = init.operation === "list" || init.operation === "sweep";
    const what = plural ? "network namespaces" : "network namespace";
    super(
      `failed to ${verbs[init.operation]} ${what}${object === undefined ? "" : ` ${object}`}: ${init.reason}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    netnsErrorBrand.mark(this);
    this.operation = init.operation;
    this.code = init.code;
    this.netnsName = init.name;
    this.path = init.path;
    this.exitCode = init.exitCode;
    this.stderr = init.stderr;
    this.reason = init.reason;
  }
}

/** Whether `value` is a NetnsError, also across copies of this module. */
export function isNetnsError(value: unknown): value is NetnsError {
  return netnsErrorBrand.is(value);
}

/** The reason a permission failure gets, so every operation says the same thing. */
export const needsRoot = "root (CAP_SYS_ADMIN) is needed";
