// Failure injection for tests and demos: `--failpoint STEP=error|delay:MS|crash` on any step or
// cleanup. `crash` is a real SIGKILL of the runner at that point.
import { setTimeout as sleep } from "node:timers/promises";
import { err, ok, type Result } from "neverthrow";
import { FAILPOINT_TARGETS, JOURNAL_WRITE } from "./steps.js";

export type FailAction =
  { readonly type: "error" } | { readonly type: "delay"; readonly ms: number } | { readonly type: "crash" };

export type Failpoints = ReadonlyMap<string, readonly FailAction[]>;

/** The error an `error` failpoint injects. */
export class InjectedFailure extends Error {
  override readonly name = "InjectedFailure";
  constructor(readonly target: string) {
    super(`injected failure at ${target} (--failpoint ${target}=error)`);
  }
}

/** Parses `--failpoint` values; an unknown target or action is a usage error naming it. */
export function parseFailpoints(specs: readonly string[]): Result<Failpoints, string> {
  const points = new Map<string, FailAction[]>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const target = eq === -1 ? spec : spec.slice(0, eq);
    const action = eq === -1 ? "" : spec.slice(eq + 1);
    if (!FAILPOINT_TARGETS.has(target)) {
      return err(
        `--failpoint ${JSON.stringify(spec)}: unknown step or cleanup ${JSON.stringify(target)} (see \`sandbox-runner steps\`)`,
      );
    }
    let parsed: FailAction;
    const delay = /^delay:(\d{1,7})$/.exec(action);
    if (action === "error") parsed = { type: "error" };
    else if (action === "crash") parsed = { type: "crash" };
    else if (delay !== null) parsed = { type: "delay", ms: Number(delay[1]) };
    else return err(`--failpoint ${JSON.stringify(spec)}: the action must be error, delay:MS or crash`);
    if (target === JOURNAL_WRITE && parsed.type === "delay")
      return err(`--failpoint ${JSON.stringify(spec)}: ${JOURNAL_WRITE} takes error or crash`);
    points.set(target, [...(points.get(target) ?? []), parsed]);
  }
  return ok(points);
}

/** Applies the failpoints set on `target`: waits, throws InjectedFailure, or kills this process. */
export async function hit(points: Failpoints, target: string, signal?: AbortSignal): Promise<void> {
  for (const action of points.get(target) ?? []) {
    if (action.type === "delay") await sleep(action.ms, undefined, signal === undefined ? {} : { signal });
    else if (action.type === "error") throw new InjectedFailure(target);
    else process.kill(process.pid, "SIGKILL");
  }
}

/** The synchronous part (error, crash) of the failpoints on `target`, for hooks that cannot wait. */
export function hitSync(points: Failpoints, target: string): void {
  for (const action of points.get(target) ?? []) {
    if (action.type === "error") {
      const e = new InjectedFailure(target) as InjectedFailure & { code?: string };
      e.code = "EIO";
      throw e;
    }
    if (action.type === "crash") process.kill(process.pid, "SIGKILL");
  }
}
