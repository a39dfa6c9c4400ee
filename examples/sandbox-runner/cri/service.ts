// The RuntimeService methods the runner implements, over one open Runner: Version, Status and the
// pod-sandbox lifecycle. Each answers as containerd's CRI plugin does (cri/README in the runner's
// README has the list); every other method is left out and answers UNIMPLEMENTED (cri/grpc.ts).
import { status } from "@grpc/grpc-js";
import { missingBinaries } from "../cni/index.js";
import type { Runner } from "../runner/index.js";
import type { SandboxRecord } from "../store.js";
import { CRI_API_VERSION, RUNTIME_NAME, VERSION } from "../version.js";
import type { PodSandboxFilter, RuntimeService } from "./gen/api_pb.js";
import { StatusError, type UnaryHandlers } from "./grpc.js";
import { podConfigFromProto } from "./pod-config.js";
import { listPodSandboxResponse, podSandboxStatusResponse, sandboxState } from "./shapes.js";
import { statusError } from "./status-codes.js";

type Handlers = UnaryHandlers<(typeof RuntimeService)["method"]>;

/** The Kubernetes API version containerd's Version answers with (CRI's `version`). */
const KUBE_API_VERSION = "0.1.0";

/** What the handlers need besides the runner. */
export interface ServiceOptions {
  /** The listen address, shown by a verbose Status. */
  readonly listen: string;
  /** Aborted when the server's grace period is over: runs still going roll back. */
  readonly shutdown: AbortSignal;
}

/** The RuntimeService handlers over `runner`. */
export function runtimeService(runner: Runner, options: ServiceOptions): Handlers {
  return {
    version: async () => ({
      version: KUBE_API_VERSION,
      runtimeName: RUNTIME_NAME,
      runtimeVersion: VERSION,
      runtimeApiVersion: CRI_API_VERSION,
    }),
    status: async (request) => ({
      status: { conditions: [{ type: "RuntimeReady", status: true }, await networkReady(runner)] },
      info: request.verbose ? { config: JSON.stringify(serverInfo(runner, options)) } : {},
    }),
    runPodSandbox: async (request, call) => {
      const config = podConfigFromProto(request.config);
      if (config.isErr()) throw statusError(config.error);
      if (request.runtimeHandler !== "")
        throw new StatusError(status.INVALID_ARGUMENT, `runtime_handler: only the default ("") is served`);
      // The client's cancellation or deadline, or the server's shutdown: the run rolls back.
      const signal = AbortSignal.any([call.signal, options.shutdown]);
      const ran = await runner.run(config.value, { signal });
      if (ran.isErr()) throw statusError(ran.error, signal);
      return { podSandboxId: ran.value.id };
    },
    stopPodSandbox: async (request) => {
      const stopped = await runner.stop(sandboxId(request.podSandboxId));
      if (stopped.isErr()) throw statusError(stopped.error);
      return {};
    },
    removePodSandbox: async (request) => {
      const removed = await runner.remove(sandboxId(request.podSandboxId));
      if (removed.isErr()) throw statusError(removed.error);
      return {};
    },
    podSandboxStatus: async (request) => {
      const found = await runner.inspect(sandboxId(request.podSandboxId));
      if (found.isErr()) throw statusError(found.error);
      return podSandboxStatusResponse(found.value, request.verbose);
    },
    listPodSandbox: async (request) => listPodSandboxResponse(filtered(await runner.list(), request.filter)),
  };
}

/** The id a request names; an empty one is refused, as containerd refuses it. */
function sandboxId(id: string): string {
  if (id === "") throw new StatusError(status.INVALID_ARGUMENT, "pod_sandbox_id: must not be empty");
  return id;
}

/** NetworkReady: the CNI configuration loads and every plugin it names is in the bin dir. */
async function networkReady(runner: Runner) {
  const loaded = await runner.network();
  const problems = loaded.isErr()
    ? [loaded.error.message]
    : (await missingBinaries(loaded.value.config, runner.config.cniBinDir)).map((p) => `${p.field}: ${p.reason}`);
  return problems.length === 0
    ? { type: "NetworkReady", status: true }
    : { type: "NetworkReady", status: false, reason: "NetworkPluginNotReady", message: problems.join("; ") };
}

/** A verbose Status's `info.config`: where this server keeps its state and finds its network. */
function serverInfo(runner: Runner, options: ServiceOptions) {
  const { layout, netnsDir, cniConfDir, cniBinDir, cniDataDir, prefix } = runner.config;
  return { listen: options.listen, stateDir: layout.root, netnsDir, cniConfDir, cniBinDir, cniDataDir, prefix };
}

/**
 * ListPodSandbox's filter, as containerd applies it (all ANDed): `id` is the id or a prefix of it,
 * `state` the CRI state, `label_selector` labels that must all be set to those values.
 */
export function filtered(records: readonly SandboxRecord[], filter: PodSandboxFilter | undefined): SandboxRecord[] {
  if (filter === undefined) return [...records];
  const labels = Object.entries(filter.labelSelector);
  return records.filter(
    (r) =>
      r.id.startsWith(filter.id) &&
      (filter.state === undefined || sandboxState(r) === filter.state.state) &&
      labels.every(([k, v]) => r.labels[k] === v),
  );
}
