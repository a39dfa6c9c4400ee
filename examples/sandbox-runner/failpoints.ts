// Failure injection for tests and demos: `--failpoint STEP=error|delay:MS|crash` on any step or
// cleanup. `crash` is a real SIGKILL of the runner at that point. Which names exist is the saga's
// business (runner/steps.ts); this module only parses and fires them.
import { setTimeout as sleep } from "node:timers/promises";
import { err, ok, type Result } from "neverthrow";
import type { AnyResourceAdapter, ResourceContext } from "errdefer";

export type FailAction =
  { readonly type: "error" } | { readonly type: "delay"; readonly ms: number } | { readonly type: "crash" };

export type Failpoints = ReadonlyMap<string, readonly FailAction[]>;

/** A failpoint on every write of the journal (a storage fault): `error` or `crash`. */
export const JOURNAL_WRITE = "journal-write";

/** The error an `error` failpoint injects. */
export class InjectedFailure extends Error {
  override readonly name = "InjectedFailure";
  constructor(readonly target: string) {
    super(`injected failure at ${target} (--failpoint ${target}=error)`);
  }
}

/** Parses `--failpoint` values against the names that exist; an unknown target or action is named. */
export function parseFailpoints(specs: readonly string[], targets: ReadonlySet<string>): Result<Failpoints, string> {
  const points = new Map<string, FailAction[]>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const target = eq === -1 ? spec : spec.slice(0, eq);
    const parsed = parseAction(eq === -1 ? "" : spec.slice(eq + 1));
    const problem = !targets.has(target)
      ? `unknown step or cleanup ${JSON.stringify(target)} (see \`sandbox-runner steps\`)`
      : parsed === undefined
        ? "the action must be error, delay:MS or crash"
        : target === JOURNAL_WRITE && parsed.type === "delay"
          ? `${JOURNAL_WRITE} takes error or crash`
          : undefined;
    if (problem !== undefined || parsed === undefined) return err(`--failpoint ${JSON.stringify(spec)}: ${problem}`);
    points.set(target, [...(points.get(target) ?? []), parsed]);
  }
  return ok(points);
}

function parseAction(action: string): FailAction | undefined {
  const delay = /^delay:(\d{1,7})$/.exec(action);
  if (action === "error") return { type: "error" };
  if (action === "crash") return { type: "crash" };
  return delay === null ? undefined : { type: "delay", ms: Number(delay[1]) };
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

/**
 * `adapter` with the failpoints on its step fired before each acquire and on its cleanup before
 * each release; the adapter itself knows nothing of failpoints.
 */
export function withFailpoints<A extends AnyResourceAdapter>(
  adapter: A,
  points: Failpoints,
  at: { readonly acquire: string; readonly release: string },
): A {
  if (!points.has(at.acquire) && !points.has(at.release)) return adapter;
  return {
    ...adapter,
    acquire: async (plan: unknown, ctx: ResourceContext): Promise<unknown> => {
      await hit(points, at.acquire, ctx.signal);
      return adapter.acquire(plan, ctx);
    },
    release: async (desc: unknown, ctx: ResourceContext): Promise<unknown> => {
      await hit(points, at.release, ctx.signal);
      return adapter.release(desc, ctx);
    },
  };
}
