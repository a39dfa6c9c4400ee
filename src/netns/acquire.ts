// acquireNetns: a namespace acquired inside a transaction, its guarded release registered with it.
import type { ResultAsync } from "neverthrow";
import type { TransactionClosedError } from "../engine/errors.js";
import type { CleanupKind, Transaction } from "../engine/types.js";
import type { NetnsError } from "./errors.js";
import { createNetns, type CreateNetnsOptions, type Netns } from "./netns.js";

/** How `acquireNetns` creates the namespace, and the cleanup it registers. */
export interface AcquireNetnsOptions extends CreateNetnsOptions {
  /**
   * When the release runs: `"error"` (the default, containerd's errdefer: on success the caller
   * owns the namespace), `"always"`, or `"success"`.
   */
  readonly on?: CleanupKind;
  /** The release's label in errors, reports and events. Default `remove-netns`. */
  readonly label?: string;
  /** The release's deadline in ms. Default: the transaction's cleanup timeout. */
  readonly timeoutMs?: number;
}

/**
 * AcquireNetns creates a namespace in `tx` and registers its removal as a guarded cleanup (R3):
 * when an earlier cleanup failed, the namespace is retained rather than removed, so whatever
 * still refers to it (a CNI DEL to retry) keeps working. The creation uses `tx.signal` unless
 * `options.signal` is given; the removal honours the cleanup's own signal.
 */
export function acquireNetns(
  tx: Transaction,
  options: AcquireNetnsOptions = {},
): ResultAsync<Netns, NetnsError | TransactionClosedError> {
  const { on = "error", label = "remove-netns", timeoutMs, ...create } = options;
  return tx.acquire(
    (signal) => createNetns({ ...create, signal: create.signal ?? signal }),
    (ns: Netns, ctx) => ns.remove({ signal: ctx.signal }),
    { guard: true, label, on, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
  );
}
