export { transaction, DEFAULT_CLEANUP_TIMEOUT_MS } from "./transaction.js";
export {
  TransactionError,
  CleanupTimeoutError,
  TransactionClosedError,
  isTransactionError,
  isCleanupTimeoutError,
  isTransactionClosedError,
  describeError,
  type CauseOrigin,
} from "./errors.js";
export { TRANSACTION_CHANNEL, CLEANUP_CHANNEL } from "./events.js";
export type {
  AcquireErrorOf,
  AcquireOptions,
  AcquiredOf,
  Body,
  Cleanup,
  CleanupContext,
  CleanupFailure,
  CleanupHandle,
  CleanupKind,
  CleanupOptions,
  CleanupReturn,
  Retained,
  Transaction,
  TransactionEvent,
  TransactionOptions,
} from "./types.js";
