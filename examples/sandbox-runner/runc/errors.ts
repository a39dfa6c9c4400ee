// RuncError: what failed (the operation, the container), and what runc said about it.
import { CONTAINER_ID } from "./validate.js";

export type RuncOperation =
  "create" | "run" | "start" | "state" | "kill" | "wait" | "delete" | "list" | "bundle" | "rootfs";

/** How each message starts, so that it reads as the action that failed (like containerd's errors). */
const action: Record<RuncOperation, (subject: string) => string> = {
  create: (s) => `failed to create container ${s}`,
  run: (s) => `failed to run container ${s}`,
  start: (s) => `failed to start container ${s}`,
  state: (s) => `failed to get the state of container ${s}`,
  kill: (s) => `failed to kill container ${s}`,
  wait: (s) => `failed to wait for container ${s} to stop`,
  delete: (s) => `failed to delete container ${s}`,
  list: (s) => `failed to list the containers in ${s}`,
  bundle: (s) => `failed to write the bundle ${s}`,
  rootfs: (s) => `failed to build the rootfs ${s}`,
};

export interface RuncErrorInit {
  readonly operation: RuncOperation;
  /** The container id (create ... delete). */
  readonly id?: string;
  /** What the message names when there is no id: the runc root, the bundle or the rootfs dir. */
  readonly subject?: string;
  readonly reason: string;
  readonly exitCode?: number;
  readonly stderr?: string;
  readonly cause?: unknown;
}

export class RuncError extends Error {
  override readonly name = "RuncError";
  readonly operation: RuncOperation;
  readonly id: string | undefined;
  /** runc's exit code; undefined when runc did not run or did not exit (validation, timeout). */
  readonly exitCode: number | undefined;
  /** What runc wrote to stderr (or its log, for create), trimmed; "" when it did not run. */
  readonly stderr: string;

  constructor(init: RuncErrorInit) {
    // An invalid id is quoted so that odd characters (and its end) show.
    const subject =
      init.id === undefined ? (init.subject ?? "") : CONTAINER_ID.test(init.id) ? init.id : JSON.stringify(init.id);
    super(
      `${action[init.operation](subject)}: ${init.reason}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.operation = init.operation;
    this.id = init.id;
    this.exitCode = init.exitCode;
    this.stderr = init.stderr ?? "";
  }
}

export function isRuncError(e: unknown): e is RuncError {
  return e instanceof RuncError;
}
