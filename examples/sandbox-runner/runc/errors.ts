// RuncError: a runc operation that failed, with what runc said.
export type RuncOperation = "create" | "start" | "state" | "kill" | "wait" | "delete" | "list" | "bundle" | "rootfs";

export class RuncError extends Error {
  override readonly name = "RuncError";
  readonly operation: RuncOperation;
  readonly id: string | undefined;
  readonly exitCode: number | undefined;
  readonly stderr: string;

  constructor(init: { operation: RuncOperation; id?: string; reason: string; exitCode?: number; stderr?: string; cause?: unknown }) {
    const what = init.id === undefined ? `failed to ${init.operation}` : `failed to ${init.operation} container ${init.id}`;
    super(`${what}: ${init.reason}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.operation = init.operation;
    this.id = init.id;
    this.exitCode = init.exitCode;
    this.stderr = init.stderr ?? "";
  }
}
