// Whether a process we recorded is still the same live process: PIDs are reused, and PID 1 may
// leave a killed process as a zombie for a while, so a zombie counts as dead and the start time
// (field 22 of /proc/PID/stat) must match.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";

/** A process as recorded in lock and segment names: its PID and kernel start time (clock ticks). */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime: string;
}

function parseStat(stat: string): { state: string; startTime: string } | undefined {
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19];
  return state === undefined || startTime === undefined ? undefined : { state, startTime };
}

/** This process's identity. */
export function selfIdentity(): ProcessIdentity {
  const parsed = parseStat(readFileSync("/proc/self/stat", "utf8"));
  return { pid: process.pid, startTime: parsed?.startTime ?? "0" };
}

/** Whether `who` is alive: same PID, same start time, and not a zombie. */
export async function isAlive(who: ProcessIdentity): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${who.pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const parsed = parseStat(stat);
  return parsed !== undefined && parsed.state !== "Z" && parsed.state !== "X" && parsed.startTime === who.startTime;
}
