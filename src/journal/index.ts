// errdefer/journal: the durable journal and recovery after a crash.
export { FileJournal } from "./file-journal.js";
export type { FileJournalOptions } from "./file-journal.js";
export type { BeforeWrite, WriteTarget } from "./segment-io.js";
export { MemoryJournal } from "./memory-journal.js";
export {
  recover,
  AbandonedTransactionError,
  AbandonedTransaction,
  isAbandonedTransactionError,
} from "../saga/recover.js";
export type { RecoverOptions, RecoveryReport, RecoveredResource } from "../saga/recover.js";
export { JournalWriteError, isJournalWriteError } from "../saga/journal-writer.js";
export { JournalError, isJournalError } from "./errors.js";
export type { JournalErrorCode } from "./errors.js";
export type { Journal, RecoverySession } from "./journal.js";
export { JOURNAL_FORMAT_VERSION } from "./records.js";
export type {
  AdoptedResource,
  JournalIssue,
  JournalRecord,
  JournalRecordBase,
  JournalledResource,
  JournalledTransaction,
} from "./records.js";
