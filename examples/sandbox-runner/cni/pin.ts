// What a stored network description may say before its plugins run as root for a DEL. A journal
// line or a record is the runner's own file, but a description read back from one must not pick
// where host-local works (a `dataDir` anywhere creates dirs there, or frees another state dir's
// IP) nor which plugins run: it must describe the network this runner is configured with.
import path from "node:path";
import { hostLocalDataDirs } from "./allocations.js";
import type { CniNetworkList } from "./types.js";

/** A stored description that is not the runner's network: its DEL is refused, nothing is run. */
export class UnpinnedNetworkError extends Error {
  override readonly name = "UnpinnedNetworkError";
  constructor(
    readonly containerId: string,
    readonly reason: string,
  ) {
    super(`refusing CNI DEL for sandbox ${containerId} from its stored network configuration: ${reason}`);
  }
}

function ipamOf(plugin: CniNetworkList["plugins"][number]): { type?: unknown; dataDir?: unknown } | undefined {
  const ipam: unknown = plugin.ipam;
  return typeof ipam === "object" && ipam !== null ? ipam : undefined;
}

/**
 * Why `stored` may not be used for a DEL, or undefined: it must name the same network, the same
 * plugin types in the same order with the same IPAM types as `current` (the runner's conflist),
 * and every host-local data dir must be `current`'s or `cniDataDir` (--cni-data-dir).
 */
export function unpinnedProblem(
  stored: CniNetworkList,
  current: CniNetworkList,
  cniDataDir: string,
): string | undefined {
  if (stored.name !== current.name)
    return `its network ${JSON.stringify(stored.name)} is not the configured ${JSON.stringify(current.name)}`;
  const types = (n: CniNetworkList) => n.plugins.map((p) => `${p.type}${ipamSuffix(p)}`);
  const [was, is] = [types(stored), types(current)];
  if (was.join(",") !== is.join(","))
    return `its plugins ${JSON.stringify(was)} are not the configured ${JSON.stringify(is)}`;
  const allowed = new Set([cniDataDir, ...hostLocalDataDirs(current)].map((d) => path.resolve(d)));
  for (const dir of hostLocalDataDirs(stored)) {
    if (!allowed.has(path.resolve(dir)))
      return `its host-local dataDir ${JSON.stringify(dir)} is not the CNI data dir (${[...allowed].join(", ")})`;
  }
  return undefined;
}

function ipamSuffix(plugin: CniNetworkList["plugins"][number]): string {
  const type = ipamOf(plugin)?.type;
  return typeof type === "string" ? `+${type}` : "";
}
