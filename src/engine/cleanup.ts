// A registered cleanup: its options, validated at the call, and its one-way state (R1, R8).
import type { Cleanup, CleanupHandle, CleanupKind, CleanupOptions } from "./types.js";

/** pending: waits for its turn; ran: its turn came (run, skipped or retained); dismissed: R8. */
type EntryState = "pending" | "ran" | "dismissed";

export class CleanupEntry implements CleanupHandle {
  state: EntryState = "pending";
  /** Set at its turn when R3 kept its resource. */
  retained = false;
  // The default label is built only when someone reads it: most cleanups are never reported.
  #label: string | undefined;

  constructor(
    readonly fn: Cleanup,
    label: string | undefined,
    /** Registration number within the transaction, from 1: the default label `cleanup-<n>`. */
    readonly index: number,
    readonly on: CleanupKind,
    readonly guard: boolean,
    /** undefined: the transaction's default deadline. */
    readonly timeoutMs: number | undefined,
    /** R12: what it was built on; undefined: the cleanup registered just before it. */
    readonly dependsOn: readonly CleanupEntry[] | undefined = undefined,
  ) {
    this.#label = label;
  }

  get label(): string {
    return (this.#label ??= `cleanup-${this.index}`);
  }

  dismiss(): boolean {
    if (this.state !== "pending") return false;
    this.state = "dismissed";
    return true;
  }
}

/** Throws a TypeError naming the argument when a deadline is not a usable number of ms. */
export function checkTimeout(where: string, name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(
      `${where}: ${name} must be a finite number of ms >= 0, got ${typeof value === "number" ? value : typeof value}`,
    );
  }
  return value;
}

/** Validates a registration at the call (bad input is a TypeError naming the argument). */
export function makeEntry(
  where: string,
  fn: unknown,
  opts: CleanupOptions | undefined,
  defaultOn: CleanupKind,
  index: number,
): CleanupEntry {
  // The checks pass on the hot path; the messages are built in badRegistration, out of line, so
  // that this function stays small enough for V8 to inline into tx.acquire (issue 14).
  if (typeof fn !== "function") return badRegistration(where, "fn", fn);
  if (opts === undefined) return new CleanupEntry(fn as Cleanup, undefined, index, defaultOn, false, undefined);
  if (typeof opts !== "object" || opts === null) return badRegistration(where, "options", opts);
  const on = opts.on ?? defaultOn;
  if (on !== "error" && on !== "always" && on !== "success") return badRegistration(where, "on", on);
  const label = opts.label;
  if (label !== undefined && typeof label !== "string") return badRegistration(where, "label", label);
  const guard = opts.guard ?? false;
  if (typeof guard !== "boolean") return badRegistration(where, "guard", guard);
  // The checks are called only for an option that is set: most registrations set none of these.
  const { timeoutMs, dependsOn } = opts;
  return new CleanupEntry(
    fn as Cleanup,
    label,
    index,
    on,
    guard,
    timeoutMs === undefined ? undefined : checkTimeout(where, "options.timeoutMs", timeoutMs),
    dependsOn === undefined ? undefined : checkDependsOn(where, dependsOn),
  );
}

/** The TypeError for a registration argument makeEntry refused. */
function badRegistration(where: string, what: "fn" | "options" | "on" | "label" | "guard", value: unknown): never {
  const kind = value === null ? "null" : typeof value;
  switch (what) {
    case "fn":
      throw new TypeError(`${where}: the cleanup must be a function, got ${kind}`);
    case "options":
      throw new TypeError(`${where}: options must be an object, got ${kind}`);
    case "on":
      throw new TypeError(`${where}: options.on must be "always", "error" or "success", got ${JSON.stringify(value)}`);
    case "label":
      throw new TypeError(`${where}: options.label must be a string, got ${typeof value}`);
    case "guard":
      throw new TypeError(`${where}: options.guard must be a boolean, got ${typeof value}`);
  }
}

/** R12: `dependsOn` must list handles this engine made (the transaction checks they are its own, earlier ones). */
function checkDependsOn(where: string, value: unknown): readonly CleanupEntry[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new TypeError(`${where}: options.dependsOn must be an array of cleanup handles`);
  for (const [i, h] of (value as unknown[]).entries()) {
    if (!(h instanceof CleanupEntry)) {
      throw new TypeError(`${where}: options.dependsOn[${i}] must be a handle returned by registering a cleanup`);
    }
  }
  return [...(value as CleanupEntry[])];
}
