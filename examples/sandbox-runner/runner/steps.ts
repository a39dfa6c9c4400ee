// The RunPodSandbox saga, declared once: each step with its cleanup, what it does, the adapter that
// acquires it and the spec it is given. The saga is built from this table, and so are `steps`, the
// failpoint targets, the cleanup names in progress and errors, what Stop releases, and the graph
// (`after`) the saga runs forward and every release (rollback, stop, rm, recover) unwinds.
import path from "node:path";
import { saga, type AnyResourceAdapter, type Saga } from "errdefer";
import type { CniNetworkList } from "../cni/index.js";
import { hit, JOURNAL_WRITE, withFailpoints, type Failpoints } from "../failpoints.js";
import type { PodConfig } from "../pod-config.js";
import type { CniDesc, RunnerAdapters } from "../resources.js";
import { sandboxKey, type SandboxRecord } from "../store.js";

/** What one run is about, fixed before its first step: every spec reads it. */
export interface RunPlan {
  readonly id: string;
  readonly config: PodConfig;
  /** The NOTREADY record create-record writes. */
  readonly record: SandboxRecord;
  readonly netnsDir: string;
  readonly netnsName: string;
  /** The CNI network ADD uses; undefined with host network (no netns, no CNI). */
  readonly network: CniNetworkList | undefined;
  readonly cniBinDir: string;
  readonly bundleDir: string;
  readonly cgroupsPath: string;
}

/** What the steps see: the plan, and the outputs read later (the IP; the READY record). */
export interface RunContext {
  readonly input: RunPlan;
  readonly "cni-add"?: CniDesc | undefined;
  readonly "mark-ready"?: SandboxRecord;
}

type AdapterKey = keyof RunnerAdapters;
type SpecOf<K extends AdapterKey> = Parameters<RunnerAdapters[K]["plan"]>[0];

interface ResourceStep<K extends AdapterKey, N extends string> {
  readonly step: N;
  /** The steps it runs after (R13): it starts once they succeeded; its cleanup runs before theirs. */
  readonly after: readonly string[];
  /** The cleanup that undoes it. */
  readonly cleanup: string;
  readonly does: string;
  readonly adapter: K;
  readonly spec: (plan: RunPlan) => SpecOf<K>;
  /** Skip (and keep) the cleanup when an earlier one failed (R3). */
  readonly guard?: boolean;
  /** Register the cleanup before acquiring: the step can half-succeed and still fail. */
  readonly registerFirst?: boolean;
  /** Only with a pod network: skipped with host network. */
  readonly podNetwork?: boolean;
  /** Released by StopPodSandbox; the others only by RemovePodSandbox. */
  readonly stop?: boolean;
}

/** The last step: the store takes the sandbox (containerd: rollback = false). */
interface CommitStep<N extends string> {
  readonly step: N;
  readonly after: readonly string[];
  readonly cleanup: undefined;
  readonly does: string;
  readonly adapter: undefined;
}

// Checks each resource step against its own adapter, then widens it to sit in one table.
const resource = <K extends AdapterKey, N extends string>(s: ResourceStep<K, N>): ResourceStep<AdapterKey, N> => s;
const commit = <N extends string>(s: Omit<CommitStep<N>, "cleanup" | "adapter">): CommitStep<N> => ({
  ...s,
  cleanup: undefined,
  adapter: undefined,
});

// The graph: name, record and netns one after another (each needs the one before); then CNI ADD
// beside the bundle + pause container (both only need the netns to exist); then READY. Rolling
// back, CNI DEL runs beside the container's stop and the bundle's removal, and the guarded netns
// removal waits for both branches: a failed DEL or stop keeps the netns (R12).
const TABLE = [
  resource({
    step: "reserve-name",
    after: [],
    cleanup: "release-name",
    does: "reserve the sandbox name (two runs of one name: one wins)",
    adapter: "name",
    spec: (p) => ({ key: sandboxKey(p.config.metadata), id: p.id }),
    guard: true,
  }),
  resource({
    step: "create-record",
    after: ["reserve-name"],
    cleanup: "delete-record",
    does: "write the sandbox record (NOTREADY)",
    adapter: "record",
    spec: (p) => p.record,
    guard: true,
  }),
  resource({
    step: "create-netns",
    after: ["create-record"],
    cleanup: "remove-netns",
    does: "create the network namespace (guarded removal)",
    adapter: "netns",
    spec: (p) => ({ dir: p.netnsDir, name: p.netnsName }),
    guard: true,
    podNetwork: true,
    stop: true,
  }),
  resource({
    step: "cni-add",
    after: ["create-netns"],
    cleanup: "cni-del",
    does: "CNI ADD through the plugins (DEL registered first)",
    adapter: "cni",
    spec: (p) => ({
      containerId: p.id,
      netnsPath: path.join(p.netnsDir, p.netnsName),
      ifName: "eth0",
      binDir: p.cniBinDir,
      network: p.network!,
    }),
    // CNI ADD can allocate (veth, IP) and still fail: its DEL is registered before it runs.
    registerFirst: true,
    podNetwork: true,
    stop: true,
  }),
  resource({
    step: "create-bundle",
    after: ["create-netns"],
    cleanup: "remove-bundle",
    does: "write the OCI bundle of the pause container",
    adapter: "bundle",
    spec: (p) => ({
      id: p.id,
      dir: p.bundleDir,
      hostname: p.config.hostname ?? p.config.metadata.name,
      netnsPath: p.config.hostNetwork ? null : path.join(p.netnsDir, p.netnsName),
      cgroupsPath: p.cgroupsPath,
    }),
    registerFirst: true, // a half-written bundle dir is removed too
  }),
  resource({
    step: "start-container",
    after: ["create-bundle", "create-netns"],
    cleanup: "stop-container",
    does: "runc run --detach of the pause process (create + start in one runc)",
    adapter: "container",
    spec: (p) => ({ id: p.id, bundle: p.bundleDir }),
    // runc run can create and then fail (or be killed): the container is stopped and deleted either way.
    registerFirst: true,
    stop: true,
  }),
  commit({
    step: "mark-ready",
    after: ["cni-add", "start-container"],
    does: "mark the sandbox READY: ownership passes to the store",
  }),
] as const;

/** A step of RunPodSandbox, by name. */
export type StepName = (typeof TABLE)[number]["step"];

/** One row of the table: a resource step, or the commit at the end (no adapter, no cleanup). */
export type Step = ResourceStep<AdapterKey, string> | CommitStep<string>;

/** The steps of RunPodSandbox in order; their cleanups run in reverse. */
export const STEPS: readonly Step[] = TABLE;

const cleanupOf = new Map<string, string | undefined>(STEPS.map((s) => [s.step, s.cleanup]));

/** The cleanup name of a step (its undo), or the step name when it has none. */
export function cleanupName(step: string): string {
  return cleanupOf.get(step) ?? step;
}

/** Every name a failpoint may target: each step, each cleanup, and every journal write. */
export const FAILPOINT_TARGETS: ReadonlySet<string> = new Set([
  ...STEPS.flatMap((s) => (s.cleanup === undefined ? [s.step] : [s.step, s.cleanup])),
  JOURNAL_WRITE,
]);

/** The steps whose resources StopPodSandbox releases (the pause process, CNI, the netns). */
export const STOP_STEPS: ReadonlySet<string> = new Set(STEPS.flatMap((s) => ("stop" in s && s.stop ? [s.step] : [])));

/** A step's place in the saga (unknown names last): held resources are kept in this order. */
export function stepOrder(step: string): number {
  const i = STEPS.findIndex((s) => s.step === step);
  return i === -1 ? STEPS.length : i;
}

const afterOf = new Map<string, readonly string[]>(STEPS.map((s) => [s.step, s.after]));

/**
 * `resources` (some of a sandbox's) in step order, each naming as `after` the nearest of them it
 * was built on in the table's graph, through the steps not among them: Stop releases the pause
 * container, CNI and the netns, and the container must still be stopped before the netns goes
 * although the bundle between them stays. A step the table does not know follows the one before.
 */
export function inStepGraph<R extends { readonly step: string; readonly after?: readonly string[] }>(
  resources: readonly R[],
): R[] {
  const sorted = [...resources].sort((x, y) => stepOrder(x.step) - stepOrder(y.step));
  const present = new Set(sorted.map((r) => r.step));
  const nearest = (step: string, seen = new Set<string>()): string[] =>
    (afterOf.get(step) ?? []).flatMap((d) => {
      if (seen.has(d)) return [];
      seen.add(d);
      return present.has(d) ? [d] : nearest(d, seen);
    });
  return sorted.map((r, k) => {
    if (!afterOf.has(r.step)) return k === 0 ? r : { ...r, after: [sorted[k - 1]!.step] };
    return { ...r, after: nearest(r.step) };
  });
}

/** Whether the saga declares `step`'s cleanup guarded. */
export function isGuarded(step: string): boolean {
  return STEPS.some((s) => s.step === step && "guard" in s && s.guard === true);
}

/** The adapters with the failpoints on each step and its cleanup (the names of this table). */
export function adaptersWithFailpoints(adapters: RunnerAdapters, failpoints: Failpoints): RunnerAdapters {
  const wrapped = { ...adapters };
  const wrap = <K extends AdapterKey>(key: K, at: { acquire: string; release: string }): void => {
    wrapped[key] = withFailpoints(adapters[key], failpoints, at);
  };
  for (const s of STEPS) if (s.adapter !== undefined) wrap(s.adapter, { acquire: s.step, release: s.cleanup });
  return wrapped;
}

/** The RunPodSandbox saga over `adapters`; its commit step calls `markReady`. */
export function runPodSandboxSaga(
  adapters: RunnerAdapters,
  failpoints: Failpoints,
  markReady: (ctx: RunContext) => Promise<SandboxRecord>,
): Saga<RunPlan, RunContext, unknown> {
  let built: Saga<RunPlan, RunContext, unknown> = saga<RunPlan>("RunPodSandbox");
  const podNetwork = (ctx: RunContext): boolean => !ctx.input.config.hostNetwork;
  for (const s of STEPS) {
    if (s.adapter === undefined) {
      built = built.step(s.step, {
        after: s.after,
        run: async (ctx, { signal }) => {
          await hit(failpoints, s.step, signal);
          return markReady(ctx);
        },
      });
      continue;
    }
    // The table's `resource()` checked this spec against this adapter; here they are one of six.
    const adapter: AnyResourceAdapter = adapters[s.adapter];
    built = built.resource(s.step, adapter, {
      after: s.after,
      spec: (ctx) => s.spec(ctx.input),
      guard: s.guard === true,
      registerFirst: s.registerFirst === true,
      when: s.podNetwork === true ? podNetwork : () => true,
    });
  }
  return built;
}
