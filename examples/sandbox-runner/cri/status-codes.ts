// How the runner's failures answer over gRPC: one table from the runner's error codes to gRPC
// status codes (as cli/exit-codes.ts maps them to exit codes), with the message the CLI prints.
import { status } from "@grpc/grpc-js";
import { describeError } from "errdefer";
import { NameTakenError } from "../resources.js";
import { RunnerError, type RunnerErrorCode } from "../runner/index.js";
import { StatusError } from "./grpc.js";

/** The one table: each runner error code to the gRPC status it answers with. */
export const STATUS_CODES = {
  // A pod config that cannot be used: nothing was created.
  "invalid-config": status.INVALID_ARGUMENT,
  // An id prefix more than one sandbox starts with: the client must give more of it.
  "ambiguous-id": status.INVALID_ARGUMENT,
  // PodSandboxStatus of an unknown id (Stop and Remove of one succeed).
  "not-found": status.NOT_FOUND,
  // The operation ran and failed (CNI, runc, I/O, a failed rollback): containerd answers UNKNOWN.
  "operation-failed": status.UNKNOWN,
  // Only `rm --force` gives up on releases; CRI has no such call.
  abandoned: status.UNKNOWN,
} as const satisfies Record<RunnerErrorCode, status>;

/** The first NameTakenError among `error`'s causes: two runs of one pod name, one lost the name. */
function nameTaken(error: unknown): NameTakenError | undefined {
  const seen = new Set<unknown>();
  for (let e = error; typeof e === "object" && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    if (e instanceof NameTakenError) return e;
    seen.add(e);
  }
  return undefined;
}

/**
 * `error` as the StatusError a handler throws: the runner's by the table (a run that lost the
 * sandbox name to another is ALREADY_EXISTS, naming the holder, as containerd's name reservation
 * answers); the message is the one the CLI prints. A call aborted by the client or the server's
 * shutdown answers with the abort's own status.
 */
export function statusError(error: unknown, signal?: AbortSignal): StatusError {
  if (signal?.aborted === true && signal.reason instanceof StatusError) {
    return new StatusError(signal.reason.code, `${signal.reason.message}: ${describeError(error)}`);
  }
  if (error instanceof StatusError) return error;
  if (nameTaken(error) !== undefined) return new StatusError(status.ALREADY_EXISTS, describeError(error));
  const code = error instanceof RunnerError ? STATUS_CODES[error.code] : status.UNKNOWN;
  return new StatusError(code, describeError(error));
}
