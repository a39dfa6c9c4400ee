// How a failed operation reads: the primary cause first, then each cleanup that failed or was
// retained, by the name users know it by (cni-del, not cni-add).
import { describeError, isTransactionError } from "errdefer";
import { OperationFailedError } from "./errors.js";
import { cleanupName } from "./steps.js";

/** The cause of a failure and what its cleanups did, in one line. */
export function failureDetail(error: unknown): string {
  if (!isTransactionError(error)) return describeError(error);
  const parts = [describeError(error.cause)];
  for (const f of error.cleanupFailures) parts.push(`${cleanupName(f.label)} failed: ${describeError(f.error)}`);
  for (const r of error.retained) parts.push(`${cleanupName(r.label)} retained`);
  return parts.join("; ");
}

/** `action` failed because of `cause`: an OperationFailedError that keeps the cause. */
export function operationFailed(action: string, cause: unknown): OperationFailedError {
  return new OperationFailedError(action, failureDetail(cause), { cause });
}
