// sweepNetns: the garbage collection containerd lacks, for namespaces nobody claims any more.
import { errAsync, ResultAsync } from "neverthrow";
import type { NetnsDriver } from "./driver.js";
import { NetnsError } from "./errors.js";
import { listIn } from "./list.js";
import type { Netns } from "./netns.js";

/** Which namespaces `sweepNetns` removes, and where it looks. */
export interface SweepNetnsOptions {
  /** Default `/var/run/netns`. */
  readonly dir?: string;
  /** Required and non-empty: only namespaces whose names start with it are candidates. */
  readonly prefix: string;
  /** Claims a namespace by its path; a claimed one is kept. A throw or rejection also keeps it. */
  readonly keep: (path: string) => boolean | PromiseLike<boolean>;
  /** How many removals run at once (default 4). */
  readonly concurrency?: number;
  readonly driver?: NetnsDriver;
}

/** What a sweep did; every candidate appears in exactly one list. */
export interface SweepReport {
  readonly removed: string[];
  readonly kept: string[];
  /** Removals that failed, and claims (`keep`) that threw: those namespaces are still there. */
  readonly failed: { readonly path: string; readonly error: NetnsError }[];
}

/**
 * SweepNetns removes the namespaces under `dir` whose names start with `prefix` and that `keep`
 * does not claim, and reports what it removed, kept and could not remove. Only a failure to
 * list is an err.
 */
export function sweepNetns(options: SweepNetnsOptions): ResultAsync<SweepReport, NetnsError> {
  if (typeof options.keep !== "function") {
    const reason = "invalid keep: must be a function that claims the paths to keep";
    return errAsync(new NetnsError({ operation: "sweep", code: "invalid-argument", path: options.dir, reason }));
  }
  return listIn("sweep", options, true).andThen((candidates) =>
    ResultAsync.fromSafePromise(sweep(candidates, options)),
  );
}

async function sweep(candidates: Netns[], options: SweepNetnsOptions): Promise<SweepReport> {
  const report: SweepReport = { removed: [], kept: [], failed: [] };
  let next = 0;
  const worker = async () => {
    for (let ns = candidates[next++]; ns !== undefined; ns = candidates[next++]) {
      let claimed: boolean;
      try {
        claimed = await options.keep(ns.path);
      } catch (cause) {
        const reason = `keep(${ns.path}) threw, so it was kept: ${cause instanceof Error ? cause.message : String(cause)}`;
        report.failed.push({
          path: ns.path,
          error: new NetnsError({
            operation: "sweep",
            code: "command-failed",
            name: ns.name,
            path: ns.path,
            reason,
            cause,
          }),
        });
        continue;
      }
      if (claimed) {
        report.kept.push(ns.path);
        continue;
      }
      const removed = await ns.remove();
      if (removed.isOk()) report.removed.push(ns.path);
      else report.failed.push({ path: ns.path, error: removed.error });
    }
  };
  const width = Math.max(1, Math.min(candidates.length, Math.floor(options.concurrency ?? 4)));
  await Promise.all(Array.from({ length: width }, worker));
  for (const list of [report.removed, report.kept]) list.sort();
  report.failed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return report;
}
