// JournalError: what the journal and recovery report when they cannot work.
import { brand } from "../internal/brand.js";

const journalErrorBrand = brand("JournalError");

/** Why the journal or recovery could not work; see docs/journal.md#errors. */
export type JournalErrorCode =
  /** The directory is a symlink, not a directory, group/world-writable or someone else's. */
  | "unsafe-dir"
  /** Another live process holds the recovery lock. */
  | "locked"
  /** A read, write or fsync failed. */
  | "io"
  /** The journal was closed, or broke after a failed write. */
  | "closed"
  /** An argument was not usable. */
  | "invalid-argument"
  /** Not Linux, or `/proc` unreadable: `FileJournal` names its segment by the process's identity there. */
  | "unsupported-platform";

/**
 * What the journal and `recover` report when they cannot work: the directory is unsafe, another
 * process holds the recovery lock, I/O failed, the journal is closed or broken, an argument was
 * unusable, or (`FileJournal`) this is not Linux. `code` says which, `path` names the file or
 * directory, `cause` keeps the system error. Test for it with `isJournalError`.
 */
export class JournalError extends Error {
  override readonly name = "JournalError";
  readonly code: JournalErrorCode;
  /** The file or directory concerned. */
  readonly path: string | undefined;

  constructor(code: JournalErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = options.path;
    journalErrorBrand.mark(this);
  }
}

/** Whether `value` is a `JournalError` (by brand, so it works across copies of errdefer). */
export function isJournalError(value: unknown): value is JournalError {
  return journalErrorBrand.is(value);
}
