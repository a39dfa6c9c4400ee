// The journal's record format (one JSON object per line) and the fold of a transaction's records
// into what it still holds.
import type { JsonValue } from "../internal/json.js";

/**
 * The newest record format version this errdefer reads. A newer record is refused, never guessed
 * at: its transaction is left for a newer errdefer. Version 2 added the `adopt` record.
 */
export const JOURNAL_FORMAT_VERSION = 2;

/**
 * The version a record of kind `t` is written with: the oldest that has its kind. An `adopt` is 2,
 * so that an errdefer that reads only version 1 leaves a transaction holding one untouched (rather
 * than missing the resources it lists); every other kind is 1, readable by any errdefer.
 */
export function formatVersionOf(t: RecordType): number {
  return t === "adopt" ? 2 : 1;
}

/** The fields every journal record has. */
export interface JournalRecordBase {
  readonly v: number;
  /** The transaction id (a UUID). */
  readonly tx: string;
}

/** One line of the journal: a transaction's begin, intents, acquisitions, releases, commit and end. */
export type JournalRecord =
  | (JournalRecordBase & { readonly t: "begin"; readonly name: string; readonly at: number })
  /** Written (durably) before a step acquires: the chosen identity of what it will make. */
  | (JournalRecordBase & {
      readonly t: "intent";
      readonly step: string;
      readonly kind: string;
      readonly guard: boolean;
      readonly desc: JsonValue;
      /**
       * The steps of the earlier intents this resource was built on: it is released before them
       * (R12). Absent: the intent just before it (a chain, and every record before R12).
       */
      readonly after?: readonly string[];
    })
  /**
   * releaseHeld's adoption, in one record (written durably before anything is released): every
   * held resource, as acquired, in acquisition order. One line is all or nothing: a crash leaves
   * every resource adopted or none.
   */
  | (JournalRecordBase & { readonly t: "adopt"; readonly resources: readonly AdoptedResource[] })
  /** After a step acquired: its full description. */
  | (JournalRecordBase & { readonly t: "acquired"; readonly step: string; readonly desc: JsonValue })
  | (JournalRecordBase & { readonly t: "released"; readonly step: string })
  | (JournalRecordBase & { readonly t: "release-failed"; readonly step: string; readonly error: string })
  /** A guarded release skipped because an earlier one failed: still held, still to recover. */
  | (JournalRecordBase & { readonly t: "retained"; readonly step: string })
  /**
   * Success: ownership passed to the caller. `held` names the steps handed over (the others, such
   * as on-always resources, are still to be released); without it, everything unreleased is.
   */
  | (JournalRecordBase & { readonly t: "commit"; readonly held?: readonly string[] })
  /** The unwind finished; whatever is not released is retained. */
  | (JournalRecordBase & { readonly t: "end" });

export type RecordType = JournalRecord["t"];

/** One resource an `adopt` record lists. */
export interface AdoptedResource {
  readonly step: string;
  readonly kind: string;
  readonly guard: boolean;
  readonly desc: JsonValue;
  /** As an intent's `after` (R12); absent: the resource listed just before it. */
  readonly after?: readonly string[];
}

/** Why a line was not used. */
export interface JournalIssue {
  /** `torn`: a last line cut short by a crash; `corrupt`: unreadable; `newer-version`: from a newer errdefer. */
  readonly type: "torn" | "corrupt" | "newer-version";
  /** Where: a file path (FileJournal) or `memory`. */
  readonly source: string;
  /** 1-based line number. */
  readonly line: number;
  readonly message: string;
  /** The transaction concerned, when it could be read. */
  readonly tx?: string;
}

const isString = (v: unknown): v is string => typeof v === "string";
/** An optional `after`: absent, or a list of step names. */
const isStepList = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.every(isString));

/** Checks a parsed line; returns the record, or the reason it is not one. */
export function checkRecord(
  value: unknown,
): { record: JournalRecord } | { problem: string; newer?: true; tx?: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { problem: "not a JSON object" };
  const r = value as Record<string, unknown>;
  const tx = isString(r.tx) && r.tx !== "" ? r.tx : undefined;
  if (typeof r.v !== "number" || !Number.isInteger(r.v) || r.v < 1)
    return { problem: "field v must be a positive integer" };
  if (r.v > JOURNAL_FORMAT_VERSION) {
    return {
      problem: `record format version ${r.v} is newer than this errdefer reads (${JOURNAL_FORMAT_VERSION}); upgrade errdefer to recover it`,
      newer: true,
      ...(tx === undefined ? {} : { tx }),
    };
  }
  if (tx === undefined) return { problem: "field tx must be a non-empty string" };
  const withTx = (problem: string) => ({ problem, tx });
  switch (r.t) {
    case "begin":
      if (!isString(r.name)) return withTx("begin: field name must be a string");
      if (typeof r.at !== "number") return withTx("begin: field at must be a number");
      break;
    case "intent":
    case "acquired":
    case "released":
    case "retained":
    case "release-failed":
      if (!isString(r.step) || r.step === "") return withTx(`${String(r.t)}: field step must be a non-empty string`);
      if ((r.t === "intent" || r.t === "acquired") && !("desc" in r)) return withTx(`${r.t}: field desc is missing`);
      if (r.t === "intent" && (!isString(r.kind) || r.kind === ""))
        return withTx("intent: field kind must be a non-empty string");
      if (r.t === "intent" && typeof r.guard !== "boolean") return withTx("intent: field guard must be a boolean");
      if (r.t === "release-failed" && !isString(r.error)) return withTx("release-failed: field error must be a string");
      if (r.t === "intent" && !isStepList(r.after)) return withTx("intent: field after must be an array of step names");
      break;
    case "adopt": {
      const problem = adoptProblem(r.resources);
      if (problem !== undefined) return withTx(`adopt: ${problem}`);
      break;
    }
    case "commit":
      if (r.held !== undefined && !(Array.isArray(r.held) && r.held.every(isString))) {
        return withTx("commit: field held must be an array of step names");
      }
      break;
    case "end":
      break;
    default:
      return withTx(`unknown record type ${JSON.stringify(r.t)}`);
  }
  return { record: value as JournalRecord };
}

/** What is wrong with an `adopt` record's resources, if anything. */
function adoptProblem(resources: unknown): string | undefined {
  if (!Array.isArray(resources)) return "field resources must be an array";
  for (const [i, x] of (resources as unknown[]).entries()) {
    const at = `resources[${i}]`;
    if (typeof x !== "object" || x === null || Array.isArray(x)) return `${at} must be an object`;
    const r = x as Record<string, unknown>;
    if (!isString(r.step) || r.step === "") return `${at}.step must be a non-empty string`;
    if (!isString(r.kind) || r.kind === "") return `${at}.kind must be a non-empty string`;
    if (typeof r.guard !== "boolean") return `${at}.guard must be a boolean`;
    if (!("desc" in r)) return `${at}.desc is missing`;
    if (!isStepList(r.after)) return `${at}.after must be an array of step names`;
  }
  return undefined;
}

/** One resource of a transaction, as its records leave it. */
export interface JournalledResource {
  readonly step: string;
  readonly kind: string;
  readonly guard: boolean;
  /** The acquired description, or the planned one when the acquisition was never confirmed. */
  readonly desc: JsonValue;
  /** `handed-over`: the caller owns it since the commit; recovery leaves it alone. */
  readonly status: "intent" | "acquired" | "released" | "retained" | "release-failed" | "handed-over";
  /** The resources (by step) it was built on (R12); absent: the one listed just before it. */
  readonly after?: readonly string[];
}

/** A transaction as its records leave it. */
export interface JournalledTransaction {
  readonly tx: string;
  readonly name: string;
  /** In the order the intents (or the adoption) named them (acquisition order). */
  readonly resources: readonly JournalledResource[];
  readonly committed: boolean;
  readonly ended: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A resource as an intent or an adoption names it. */
function resourceOf(r: AdoptedResource, status: JournalledResource["status"]): Mutable<JournalledResource> {
  const { step, kind, guard, desc, after } = r;
  return { step, kind, guard, desc, status, ...(after === undefined ? {} : { after }) };
}

/** Folds one transaction's records, in order, into what it holds. */
export function foldTransaction(tx: string, records: readonly JournalRecord[]): JournalledTransaction {
  let name = "";
  let committed = false;
  let ended = false;
  const resources = new Map<string, Mutable<JournalledResource>>();
  for (const r of records) {
    switch (r.t) {
      case "begin":
        name = r.name;
        break;
      case "intent":
        resources.set(r.step, resourceOf(r, "intent"));
        break;
      case "adopt":
        for (const a of r.resources) {
          resources.set(a.step, resourceOf(a, "acquired"));
        }
        break;
      case "acquired": {
        const res = resources.get(r.step);
        if (res !== undefined) {
          res.desc = r.desc;
          res.status = "acquired";
        }
        break;
      }
      case "released":
      case "retained":
      case "release-failed": {
        const res = resources.get(r.step);
        if (res !== undefined) res.status = r.t;
        break;
      }
      case "commit":
        committed = true;
        for (const res of resources.values()) {
          if (
            (res.status === "intent" || res.status === "acquired") &&
            (r.held === undefined || r.held.includes(res.step))
          ) {
            res.status = "handed-over";
          }
        }
        break;
      case "end":
        ended = true;
        break;
    }
  }
  return { tx, name, resources: [...resources.values()], committed, ended };
}

/**
 * Whether a transaction still holds something nobody owns: a resource neither released nor handed
 * over (a release retained or failed after the commit counts too).
 */
export function needsRecovery(t: JournalledTransaction): boolean {
  return t.resources.some((r) => r.status !== "released" && r.status !== "handed-over");
}
