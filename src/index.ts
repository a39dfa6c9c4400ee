export { transaction, DEFAULT_CLEANUP_TIMEOUT_MS } from "./engine/transaction.js";
export {
  TransactionError,
  CleanupTimeoutError,
  TransactionClosedError,
  isTransactionError,
  isCleanupTimeoutError,
  isTransactionClosedError,
  describeError,
  type CauseOrigin,
  type CleanupFailure,
  type Retained,
} from "./engine/errors.js";
export { TRANSACTION_CHANNEL, CLEANUP_CHANNEL } from "./engine/events.js";
export type {
  AcquireErrorOf,
  AcquireOptions,
  AcquiredOf,
  Body,
  BodyErr,
  BodyOk,
  BodyReturn,
  BodyTypeError,
  CheckBody,
  Cleanup,
  CleanupContext,
  CleanupHandle,
  CleanupKind,
  CleanupOptions,
  CleanupReturn,
  ErrOf,
  NotNullish,
  OkOf,
  Transaction,
  TransactionEvent,
  TransactionOptions,
} from "./engine/types.js";
export { saga, Saga } from "./saga/saga.js";
export { SAGA_CHANNEL } from "./saga/events.js";
export { releaseHeld } from "./saga/release-held.js";
export { parseHeld, InvalidHeldError, isInvalidHeldError } from "./saga/held.js";
export { SagaError, isSagaError, concurrentFailuresOf } from "./saga/errors.js";
export type { ConcurrentStepFailure } from "./saga/errors.js";
export type { StepGraph, StepContext, DeclaredStep, Add, Widen } from "./saga/saga.js";
export type { ReleaseHeldOptions, ReleaseHeldSuccess } from "./saga/release-held.js";
export { JournalWriteError, isJournalWriteError } from "./saga/journal-writer.js";
export type {
  Held,
  HeldResource,
  ResourceStepDefinition,
  SagaRunOptions,
  SagaSuccess,
  StepDefinition,
  StepError,
  StepEvent,
  StepOptions,
  StepOutput,
  StepRun,
} from "./saga/types.js";
export { MissingAdapterError, isMissingAdapterError } from "./resources/release.js";
export type { AnyResourceAdapter, ResourceAdapter, ResourceContext } from "./resources/adapter.js";
export type { JsonValue } from "./internal/json.js";
