// One CRI client for both runtimes: the pod configs, one run -> stop -> remove cycle timed call by
// call, the parallel rate, and the smoke check that shows a runtime answered real CRI (a ready
// sandbox with an IP that ListPodSandbox lists).
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import {
  NamespaceMode,
  PodSandboxConfigSchema,
  PodSandboxState,
  RuntimeService,
} from "../../examples/sandbox-runner/cri/gen/api_pb.js";
import type { UnaryClient } from "../../examples/sandbox-runner/cri/grpc.js";
import type { Network } from "./host.js";

type Methods<T> = T extends GenService<infer S> ? S : never;
export type CriClient = UnaryClient<Methods<typeof RuntimeService>>;
export type PodConfig = MessageInitShape<typeof PodSandboxConfigSchema>;

/** A CRI runtime under test, started by the bench. */
export interface CriRuntime {
  readonly name: string;
  readonly client: CriClient;
  readonly network: Network;
  /** Where its sandboxes' netns files and runc containers are (the failure inventory). */
  readonly netnsDir: string;
  readonly runcRoot: string;
  /**
   * The one field of the pod config that differs: containerd is given a cgroup_parent named with
   * the run's prefix (else its cgroups are named by sandbox id alone); our runner refuses
   * cgroup_parent and names its cgroups with --prefix itself.
   */
  readonly cgroupParent?: string;
}

/** Every call's deadline: generous, a stuck call fails the bench instead of hanging it. */
export const CALL_TIMEOUT_MS = 60_000;

let serial = 0;

/** The shared pod config (a fresh name and uid each time: CRI reserves the name per sandbox). */
export function podConfig(rt: CriRuntime, namespace: string): PodConfig {
  const n = serial++;
  return {
    metadata: { name: `bench-${n}`, namespace, uid: `uid-${process.pid}-${n}`, attempt: 0 },
    hostname: `bench-${n}`,
    labels: { app: "errdefer-bench" },
    linux: {
      ...(rt.cgroupParent === undefined ? {} : { cgroupParent: rt.cgroupParent }),
      securityContext: { namespaceOptions: { network: NamespaceMode.POD } },
    },
  };
}

export interface Cycle {
  readonly run: number;
  readonly stop: number;
  readonly remove: number;
  readonly total: number;
}

/** A rejection handler that says which runtime and call failed (a cycle's failure ends the bench). */
function failed(rt: CriRuntime, call: string) {
  return (e: unknown): never => {
    throw new Error(`${rt.name}: ${call} failed: ${(e as { details?: string }).details ?? String(e)}`, { cause: e });
  };
}

/** run -> stop -> remove, each call timed (ms). */
export async function cycle(rt: CriRuntime, namespace: string): Promise<Cycle> {
  const opts = { timeoutMs: CALL_TIMEOUT_MS };
  const config = podConfig(rt, namespace);
  const t0 = performance.now();
  const { podSandboxId } = await rt.client.runPodSandbox({ config }, opts).catch(failed(rt, "RunPodSandbox"));
  const t1 = performance.now();
  await rt.client.stopPodSandbox({ podSandboxId }, opts).catch(failed(rt, "StopPodSandbox"));
  const t2 = performance.now();
  await rt.client.removePodSandbox({ podSandboxId }, opts).catch(failed(rt, "RemovePodSandbox"));
  const t3 = performance.now();
  return { run: t1 - t0, stop: t2 - t1, remove: t3 - t2, total: t3 - t0 };
}

/** Cycles per second of `cycles` cycles run by `width` workers; each cycle is kept in `into`. */
export async function rate(cycles: number, width: number, one: () => Promise<Cycle>, into: Cycle[]): Promise<number> {
  let left = cycles;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (left-- > 0) into.push(await one());
    }),
  );
  return cycles / ((performance.now() - started) / 1000);
}

/** One line on what the runtime is and what a sandbox of it looks like through CRI. */
export async function smoke(rt: CriRuntime, namespace: string): Promise<string> {
  const opts = { timeoutMs: CALL_TIMEOUT_MS };
  const v = await rt.client.version({}, opts);
  const { podSandboxId } = await rt.client.runPodSandbox({ config: podConfig(rt, namespace) }, opts);
  try {
    const { status } = await rt.client.podSandboxStatus({ podSandboxId }, opts);
    const listed = await rt.client.listPodSandbox({ filter: { id: podSandboxId } }, opts);
    if (status?.state !== PodSandboxState.SANDBOX_READY) throw new Error(`${rt.name}: the sandbox is not ready`);
    if (listed.items.length !== 1) throw new Error(`${rt.name}: ListPodSandbox lists ${listed.items.length} sandboxes`);
    return (
      `${rt.name}: ${v.runtimeName} ${v.runtimeVersion} (CRI ${v.runtimeApiVersion}); ` +
      `a sandbox: READY, ip ${status.network?.ip ?? "?"}, listed`
    );
  } finally {
    await rt.client.stopPodSandbox({ podSandboxId }, opts);
    await rt.client.removePodSandbox({ podSandboxId }, opts);
  }
}

/** Stops and removes every sandbox the CRI lists; returns the calls that failed. */
export async function removeAllSandboxes(rt: CriRuntime): Promise<string[]> {
  const problems: string[] = [];
  const opts = { timeoutMs: CALL_TIMEOUT_MS };
  const listed = await rt.client.listPodSandbox({}, opts).catch((e: unknown) => {
    problems.push(`${rt.name}: ListPodSandbox: ${String(e)}`);
    return { items: [] };
  });
  const failed = (call: string, id: string) => (e: unknown) => {
    problems.push(`${rt.name}: ${call} ${id.slice(0, 12)}: ${(e as { details?: string }).details ?? String(e)}`);
  };
  for (const { id } of listed.items) {
    await rt.client.stopPodSandbox({ podSandboxId: id }, opts).catch(failed("StopPodSandbox", id));
    await rt.client.removePodSandbox({ podSandboxId: id }, opts).catch(failed("RemovePodSandbox", id));
  }
  return problems;
}
