// Whether a process we recorded is still the same live process. A PID means something only in its
// PID namespace and its boot, so a recorded process carries both (when they could be read):
// - from an earlier boot, it is dead (every process of that boot is gone);
// - from another PID namespace of this boot, we cannot see it by its PID (a sidecar container
//   sharing the directory): it counts as live unless the caller says otherwise;
// - from ours, /proc/PID/stat decides: PIDs are reused, so the start time (field 22) must match,
//   and PID 1 may leave a killed process a zombie for a while, so a zombie counts as dead.
import { readFileSync, readlinkSync } from "node:fs";
import { readFile } from "node:fs/promises";

/**
 * A process as recorded in segment names and lock holder files: its PID, its kernel start time
 * (clock ticks since boot), and where that PID means something.
 */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime: string;
  /**
   * The PID namespace `pid` is a PID in: the inode number of `/proc/<pid>/ns/pid`, in decimal.
   * Absent (older records, or a kernel that does not say): the reader's own.
   */
  readonly pidNamespace?: string | undefined;
  /**
   * The boot the process ran in: `/proc/sys/kernel/random/boot_id` (a UUID). Absent: the
   * reader's own.
   */
  readonly bootId?: string | undefined;
}

/**
 * Where a recorded process ran, seen from this process: in our PID namespace of this boot, in
 * another PID namespace of this boot, or in an earlier boot.
 */
export type ProcessPlace = "this-namespace" | "other-namespace" | "other-boot";

/** How to judge a process recorded in another PID namespace of this boot. */
export type ForeignPidNamespaces = "live" | "dead";

/** How `isAlive` judges a process it cannot look up. */
export interface LivenessOptions {
  /**
   * A process in another PID namespace of this boot cannot be looked up by its PID from here:
   * `"live"` (the default) counts it alive, so what it owns is never taken; `"dead"` counts it
   * dead, for callers who know that no other PID namespace shares their files while it runs.
   */
  readonly foreignPidNamespaces?: ForeignPidNamespaces;
}

function parseStat(stat: string): { state: string; startTime: string } | undefined {
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19];
  return state === undefined || startTime === undefined ? undefined : { state, startTime };
}

/** The inode of a namespace link (`pid:[4026531836]` -> `4026531836`), or undefined. */
function namespaceInode(link: string): string | undefined {
  try {
    return /^[a-z_]+:\[(\d+)\]$/.exec(readlinkSync(link))?.[1];
  } catch {
    return undefined;
  }
}

function readBootId(): string | undefined {
  try {
    const id = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim().toLowerCase();
    return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

// Neither can change during a process's life (setns into a PID namespace moves only children).
let here: { readonly pidNamespace: string | undefined; readonly bootId: string | undefined } | undefined;
function hereAndNow(): NonNullable<typeof here> {
  here ??= { pidNamespace: namespaceInode("/proc/self/ns/pid"), bootId: readBootId() };
  return here;
}

/** This process's identity, with its PID namespace and boot id when the kernel says them. */
export function selfIdentity(): ProcessIdentity {
  const parsed = parseStat(readFileSync("/proc/self/stat", "utf8"));
  const { pidNamespace, bootId } = hereAndNow();
  return { pid: process.pid, startTime: parsed?.startTime ?? "0", pidNamespace, bootId };
}

const bootKey = (id: string): string => id.replace(/-/g, "").toLowerCase();

/**
 * Where `who` ran, seen from this process. A record without a namespace or boot (an older one) is
 * taken as ours; a recorded namespace when we cannot read our own is taken as another (its PID
 * may mean nothing here), a recorded boot when we cannot read ours as this one.
 */
export function placeOf(who: ProcessIdentity): ProcessPlace {
  const { pidNamespace, bootId } = hereAndNow();
  if (who.bootId !== undefined && bootId !== undefined && bootKey(who.bootId) !== bootKey(bootId)) return "other-boot";
  if (who.pidNamespace !== undefined && who.pidNamespace !== pidNamespace) return "other-namespace";
  return "this-namespace";
}

/**
 * Whether `who` is alive. From an earlier boot: no. From another PID namespace of this boot: as
 * `options.foreignPidNamespaces` says (default alive). From ours: same PID, same start time, and
 * not a zombie.
 */
export async function isAlive(who: ProcessIdentity, options: LivenessOptions = {}): Promise<boolean> {
  const place = placeOf(who);
  if (place === "other-boot") return false;
  if (place === "other-namespace") return (options.foreignPidNamespaces ?? "live") === "live";
  let stat: string;
  try {
    stat = await readFile(`/proc/${who.pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const parsed = parseStat(stat);
  return parsed !== undefined && parsed.state !== "Z" && parsed.state !== "X" && parsed.startTime === who.startTime;
}

/** `value` as a ProcessIdentity (as read back from a file), or undefined when it is not one. */
export function asProcessIdentity(value: unknown): ProcessIdentity | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const optional = (x: unknown): x is string | undefined => x === undefined || typeof x === "string";
  if (typeof v.pid !== "number" || !Number.isSafeInteger(v.pid) || v.pid <= 0) return undefined;
  if (typeof v.startTime !== "string" || !optional(v.pidNamespace) || !optional(v.bootId)) return undefined;
  return { pid: v.pid, startTime: v.startTime, pidNamespace: v.pidNamespace, bootId: v.bootId };
}
