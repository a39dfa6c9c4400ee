// Typed failures of the CNI module. Messages start with the action so they read well in the
// runner's progress output and in a rollback report.
import type { CniResult } from "./types.js";

/**
 * Codes the runner assigns itself, next to the numeric codes plugins send (CNI spec: 1-99 are
 * the spec's, 100+ the plugin's own, 999 is what the reference plugins use for "other").
 */
export type CniLocalCode =
  | "missing-plugin" // no regular file named like the type in the bin dir
  | "invalid-config" // a plugin type that is not a plain file name
  | "exec-failed" // the plugin could not start or was killed
  | "plugin-failed" // non-zero exit without an error JSON
  | "invalid-result" // exit 0 but stdout is not a JSON object
  | "timeout"
  | "aborted";

export type CniCommand = "ADD" | "DEL";

export interface CniErrorInit {
  readonly action: string;
  readonly containerId: string;
  readonly plugin: string;
  readonly command: CniCommand;
  readonly code: number | CniLocalCode;
  readonly msg: string;
  readonly details?: string | undefined;
  readonly exitCode?: number | undefined;
  readonly stderr?: string | undefined;
  readonly prevResult?: CniResult | undefined;
}

/** One plugin invocation that failed (or could not happen). */
export class CniError extends Error {
  override readonly name = "CniError";
  readonly containerId: string;
  readonly plugin: string;
  readonly command: CniCommand;
  readonly code: number | CniLocalCode;
  /** The plugin's own `msg` (or ours, for local codes). */
  readonly msg: string;
  readonly details: string | undefined;
  readonly exitCode: number | undefined;
  readonly stderr: string | undefined;
  /**
   * For ADD: the result of the last plugin that succeeded before this one, if any; pass it to
   * cniDel as prevResult so DEL sees what was set up.
   */
  readonly prevResult: CniResult | undefined;

  constructor(init: CniErrorInit) {
    const details = init.details === undefined || init.details === "" ? "" : ` (${init.details})`;
    super(`${init.action}: plugin ${init.plugin}: ${init.msg}${details}`);
    this.containerId = init.containerId;
    this.plugin = init.plugin;
    this.command = init.command;
    this.code = init.code;
    this.msg = init.msg;
    this.details = init.details;
    this.exitCode = init.exitCode;
    this.stderr = init.stderr;
    this.prevResult = init.prevResult;
  }
}

export interface CniDelFailure {
  readonly plugin: string;
  readonly error: CniError;
}

/** A DEL in which one or more plugins failed; every plugin's DEL was still attempted. */
export class CniDelError extends Error {
  override readonly name = "CniDelError";
  readonly containerId: string;
  /** Every failure, in the order the DELs ran (reverse plugin order). */
  readonly failures: readonly CniDelFailure[];
  /** Plugins skipped because their binary does not exist (they allocated nothing). */
  readonly skipped: readonly string[];

  constructor(containerId: string, failures: readonly CniDelFailure[], skipped: readonly string[]) {
    const each = failures.map(
      (f) => `plugin ${f.plugin}: ${f.error.msg}${f.error.details ? ` (${f.error.details})` : ""}`,
    );
    super(
      `failed to tear down network for sandbox ${containerId}: ${failures.length} plugin(s) failed: ${each.join("; ")}`,
    );
    this.containerId = containerId;
    this.failures = failures;
    this.skipped = skipped;
  }
}

export type CniConfigErrorCode = "invalid" | "io";

/** A network configuration (or default settings) that cannot be used; names file and field. */
export class CniConfigError extends Error {
  override readonly name = "CniConfigError";
  readonly code: CniConfigErrorCode;
  /** The config file, when the problem is in one. */
  readonly file: string | undefined;
  /** A JSON path such as `plugins[1].type`, or the setting name (`bridge`, `subnet`). */
  readonly field: string | undefined;
  readonly reason: string;

  constructor(init: {
    code: CniConfigErrorCode;
    file?: string | undefined;
    field?: string | undefined;
    reason: string;
    cause?: unknown;
  }) {
    const where = [init.file, init.field].filter((s): s is string => s !== undefined && s !== "").join(": ");
    const action =
      init.code === "io" ? "cannot read or write the CNI network configuration" : "invalid CNI network configuration";
    super(
      `${action}${where === "" ? "" : ` ${where}`}: ${init.reason}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.code = init.code;
    this.file = init.file;
    this.field = init.field;
    this.reason = init.reason;
  }
}

export function isCniError(e: unknown): e is CniError {
  return e instanceof CniError;
}
