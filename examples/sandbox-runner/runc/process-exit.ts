// Waiting for a container's process to exit without being its parent (runc's init is reparented
// to PID 1), by polling /proc: a few reads per millisecond cost far less than spawning `runc state`.
// PID 1 here reaps orphans late (up to ~2 s), so a zombie counts as exited; isAlive compares the
// start time too, so a reused PID is not mistaken for the container.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isAlive, type ProcessIdentity } from "errdefer/host";

/** The identity of a live process, or undefined when it is gone or a zombie. */
export async function liveIdentity(pid: number): Promise<ProcessIdentity | undefined> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command name, which may hold spaces and ')': state is field 3, starttime 22.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || state === "Z" || state === "X") return undefined;
  return { pid, startTime };
}

/**
 * The container's init process as runc itself identifies it (PID and start time), read from
 * runc's state file (`<root>/<id>/state.json`, written by rename) instead of spawning `runc state`,
 * which costs 5-10 ms here. undefined when there is no such file or its format is not the one
 * runc 1.0-1.1 writes: the caller then asks runc.
 */
export async function initFromStateFile(root: string, id: string): Promise<ProcessIdentity | undefined> {
  try {
    const s = JSON.parse(await readFile(path.join(root, id, "state.json"), "utf8")) as {
      init_process_pid?: unknown;
      init_process_start?: unknown;
    };
    const pid = s.init_process_pid;
    const start = s.init_process_start;
    if (
      typeof pid === "number" &&
      Number.isSafeInteger(pid) &&
      pid > 0 &&
      typeof start === "number" &&
      Number.isSafeInteger(start)
    )
      return { pid, startTime: String(start) };
  } catch {
    // No state file (no container, or another layout): runc state decides.
  }
  return undefined;
}

export type ExitWait = "exited" | "timeout" | "aborted";

/** Polls until `who` has exited (gone, zombie or PID reused), the deadline passes, or the signal aborts. */
export async function waitForExit(
  who: ProcessIdentity,
  options: { readonly timeoutMs: number; readonly signal?: AbortSignal | undefined },
): Promise<ExitWait> {
  const deadline = performance.now() + options.timeoutMs;
  // SIGKILL usually takes effect within a millisecond: start at 1 ms, never sleep more than 5.
  for (let delay = 1; ; delay = Math.min(delay * 2, 5)) {
    if (!(await isAlive(who))) return "exited";
    if (options.signal?.aborted === true) return "aborted";
    const left = deadline - performance.now();
    if (left <= 0) return "timeout";
    await sleep(Math.min(delay, left));
  }
}
