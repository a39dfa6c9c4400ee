// The runner's typed errors: what went wrong, as a kebab-case `code` a caller (the CLI's exit-code
// table, a CRI server's status codes) maps without reading messages. A leaf: imports nothing.

/** Every code the runner's own errors carry. */
export type RunnerErrorCode = "not-found" | "ambiguous-id" | "invalid-config" | "operation-failed" | "abandoned";

/** The base of the runner's errors. */
export abstract class RunnerError extends Error {
  abstract readonly code: RunnerErrorCode;
}

/** No sandbox has this id (or id prefix). */
export class SandboxNotFoundError extends RunnerError {
  override readonly name = "SandboxNotFoundError";
  readonly code = "not-found";
  constructor(readonly id: string) {
    super(`no sandbox ${quote(id)}`);
  }
}

/** An id prefix that more than one sandbox starts with: the caller must give more of the id. */
export class AmbiguousIdError extends RunnerError {
  override readonly name = "AmbiguousIdError";
  readonly code = "ambiguous-id";
  constructor(
    readonly prefix: string,
    readonly matches: number,
  ) {
    super(`sandbox id prefix ${quote(prefix)} is ambiguous: it matches ${matches} sandboxes`);
  }
}

export interface ConfigProblem {
  /** The field, as the config names it (`metadata.name`, `stateDir`). */
  readonly field: string;
  readonly reason: string;
}

/** A pod config or runner options that cannot be used: nothing was created. */
export class ConfigError extends RunnerError {
  override readonly name = "ConfigError";
  readonly code = "invalid-config";
  constructor(
    readonly problems: readonly ConfigProblem[],
    /** What was invalid: `pod config`, `runner options`. */
    readonly subject = "pod config",
  ) {
    super(`invalid ${subject}: ${problems.map((p) => `${p.field}: ${p.reason}`).join("; ")}`);
  }
}

/** An operation that ran and failed; `cause` is the library's error (a TransactionError for a saga). */
export class OperationFailedError extends RunnerError {
  override readonly name = "OperationFailedError";
  readonly code = "operation-failed";
  constructor(
    /** What was being done: `run pod sandbox`, `stop pod sandbox <id>`. */
    readonly action: string,
    /** Why, said for a reader (the cause first, then each cleanup that failed). */
    detail: string,
    options: { readonly cause: unknown },
  ) {
    super(`failed to ${action}: ${detail}`, options);
  }
}

/** A release `rm --force` gave up on: the cleanup, its sandbox, and why it failed. */
export interface AbandonedResource {
  /** The cleanup that failed (`cni-del`). */
  readonly step: string;
  readonly sandbox: string;
  readonly error: string;
}

/** `rm --force` removed the sandbox but could not release these: they are left on the host. */
export class AbandonedResourcesError extends RunnerError {
  override readonly name = "AbandonedResourcesError";
  readonly code = "abandoned";
  constructor(readonly abandoned: readonly AbandonedResource[]) {
    const list = abandoned.map((a) => `${a.step} of ${a.sandbox} (${a.error})`).join("; ");
    super(`removed with --force, but not released (left on the host): ${list}`);
  }
}

/**
 * A value quoted for a message: JSON (which escapes C0 controls and lone surrogates), cut short,
 * with DEL, C1 controls and line separators escaped too, so no input reaches a terminal raw.
 */
export function quote(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  const points = [...json];
  const text = points.length > 100 ? `${points.slice(0, 100).join("")}...` : json;
  return text.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
