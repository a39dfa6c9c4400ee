// The failure comparison: each runtime on a conflist whose chain is broken after bridge (a plugin
// missing from the bin dir, or one that fails every ADD and DEL: host.ts's BREAKS),
// RunPodSandbox a few times, then what each left: netns files, veths on its bridge, host-local
// allocations, runc containers, and the sandboxes ListPodSandbox still shows; then Stop + Remove
// through the CRI with the config still broken, and after a restart on the fixed config, with the
// same inventory each time. containerd#12130: containerd keeps the netns and leaks the veth and
// the IP until then.
import { PodSandboxState } from "../../examples/sandbox-runner/cri/gen/api_pb.js";
import { formatTable } from "../measure.js";
import { CALL_TIMEOUT_MS, podConfig, removeAllSandboxes, type CriRuntime } from "./cycle.js";
import { inventory, type Break, type Leftovers } from "./host.js";

export const FAILED_RUNS = 3;

type Snapshot = Leftovers & { readonly sandboxes: readonly string[] };

export interface FailureReport {
  readonly runtime: string;
  /** How the conflist was broken. */
  readonly break: Break;
  /** Each RunPodSandbox's outcome: the error's message, or "succeeded" (the config was not broken enough). */
  readonly attempts: readonly string[];
  readonly afterRuns: Snapshot;
  /** Stop + Remove of every listed sandbox, config still broken: the calls that failed. */
  readonly cleanupErrors: readonly string[];
  readonly afterCleanup: Snapshot;
  /** The same after a restart on the good conflist. */
  readonly fixedCleanupErrors: readonly string[];
  readonly afterFix: Snapshot;
}

/** `<id prefix> READY|NOTREADY` for every sandbox the runtime lists. */
async function sandboxes(rt: CriRuntime): Promise<string[]> {
  const listed = await rt.client.listPodSandbox({}, { timeoutMs: CALL_TIMEOUT_MS });
  return listed.items.map((s) => `${s.id.slice(0, 12)} ${PodSandboxState[s.state]}`);
}

async function snapshot(rt: CriRuntime): Promise<Snapshot> {
  return { ...(await inventory(rt.network, rt.netnsDir, rt.runcRoot)), sandboxes: await sandboxes(rt) };
}

/** A message without what changes from run to run (sandbox ids, the temp dir), on one line. */
function general(message: string, tmp: string): string {
  return message
    .split(tmp)
    .join("$TMP")
    .replace(/\b[0-9a-f]{64}\b|\b[0-9a-f]{32}\b/g, "<id>")
    .replace(/\s+/g, " ")
    .slice(0, 240);
}

/** Errors of a cleanup, each said once. */
function distinct(errors: readonly string[], tmp: string): string[] {
  return [...new Set(errors.map((e) => general(e.replace(/ [0-9a-f]{12}:/, " <id>:"), tmp)))];
}

/** The first half, on `rt` started on its network's broken conf dir: the failed runs, then Stop + Remove. */
export async function failedRuns(
  rt: CriRuntime,
  how: Break,
  namespace: string,
  tmp: string,
): Promise<Omit<FailureReport, "fixedCleanupErrors" | "afterFix">> {
  const attempts: string[] = [];
  for (let i = 0; i < FAILED_RUNS; i++) {
    try {
      await rt.client.runPodSandbox({ config: podConfig(rt, namespace) }, { timeoutMs: CALL_TIMEOUT_MS });
      attempts.push("succeeded");
    } catch (e) {
      attempts.push(general((e as { details?: string }).details ?? String(e), tmp));
    }
  }
  const afterRuns = await snapshot(rt);
  const cleanupErrors = distinct(await removeAllSandboxes(rt), tmp);
  return { runtime: rt.name, break: how, attempts, afterRuns, cleanupErrors, afterCleanup: await snapshot(rt) };
}

/** The second half, on `rt` restarted on the good conf dir: Stop + Remove again. */
export async function afterFix(
  rt: CriRuntime,
  first: Omit<FailureReport, "fixedCleanupErrors" | "afterFix">,
  tmp: string,
): Promise<FailureReport> {
  const fixedCleanupErrors = distinct(await removeAllSandboxes(rt), tmp);
  return { ...first, fixedCleanupErrors, afterFix: await snapshot(rt) };
}

/** The comparison as a table: one column per runtime and moment. */
export function formatFailure(reports: readonly FailureReport[]): string {
  const cols = reports.flatMap((r): [string, Snapshot][] => [
    [`${r.runtime}: ${FAILED_RUNS} failed runs`, r.afterRuns],
    [`then Stop+Remove`, r.afterCleanup],
    [`then fixed, Stop+Remove`, r.afterFix],
  ]);
  const row = (label: string, f: (x: Snapshot) => string) => [label, ...cols.map(([, x]) => f(x))];
  const states = (x: Snapshot) => {
    const notReady = x.sandboxes.filter((s) => !s.endsWith(" SANDBOX_READY")).length;
    return `${x.sandboxes.length} (${notReady} not ready)`;
  };
  const table = formatTable(
    ["left behind", ...cols.map(([h]) => h)],
    [
      row("netns files (mounted)", (x) => `${x.netnsFiles.length} (${x.netnsMounted})`),
      row("veths on its bridge", (x) => String(x.veths.length)),
      row("IP allocations (host-local)", (x) => String(x.ipAllocations.length)),
      row("runc containers", (x) => String(x.runcContainers.length)),
      row("sandboxes listed", states),
    ],
  );
  const said = (errors: readonly string[]) => (errors.length === 0 ? "all succeeded" : errors.join(" | "));
  const notes = reports.flatMap((r) => [
    `${r.runtime}: RunPodSandbox answered: ${[...new Set(r.attempts)].join(" | ")}`,
    `${r.runtime}: Stop+Remove, config still broken: ${said(r.cleanupErrors)}`,
    `${r.runtime}: Stop+Remove after a restart on the fixed config: ${said(r.fixedCleanupErrors)}`,
  ]);
  return [table, ...notes].join("\n");
}
