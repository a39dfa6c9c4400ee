// What a stored network description may say before its plugins run as root for a DEL. A journal
// line or a record is the runner's own file, but a description read back from one must not pick
// where host-local works (a `dataDir` anywhere creates dirs there, or frees another state dir's
// IP) nor which plugins run: the DEL runs only plugins the runner is configured with.
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
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

/** The network a DEL runs, and whether it is the configured one instead of the stored one. */
export interface PinnedNetwork {
  readonly network: CniNetworkList;
  /** The stored plugin chain was not the configured one (the operator changed the conflist). */
  readonly replaced: boolean;
}

/**
 * The network a DEL of `stored` runs with, or why none may run. The stored network must have the
 * configured name (host-local keeps its allocations under it) and every host-local data dir must
 * be `current`'s or `cniDataDir` (--cni-data-dir): otherwise the DEL is refused. When its plugin
 * chain (types in order, with their IPAM types) is not `current`'s, the DEL runs `current`, the
 * conflist the operator configures now, as containerd does: a chain fixed after a failed ADD
 * (a plugin removed) can then be torn down, and no plugin a description names is ever run.
 */
export function pinNetwork(
  stored: CniNetworkList,
  current: CniNetworkList,
  cniDataDir: string,
): Result<PinnedNetwork, string> {
  if (stored.name !== current.name)
    return err(`its network ${JSON.stringify(stored.name)} is not the configured ${JSON.stringify(current.name)}`);
  const allowed = new Set([cniDataDir, ...hostLocalDataDirs(current)].map((d) => path.resolve(d)));
  for (const dir of hostLocalDataDirs(stored)) {
    if (!allowed.has(path.resolve(dir)))
      return err(`its host-local dataDir ${JSON.stringify(dir)} is not the CNI data dir (${[...allowed].join(", ")})`);
  }
  const chain = (n: CniNetworkList) => n.plugins.map((p) => `${p.type}${ipamSuffix(p)}`).join(",");
  return chain(stored) === chain(current)
    ? ok({ network: stored, replaced: false })
    : ok({ network: current, replaced: true });
}

function ipamSuffix(plugin: CniNetworkList["plugins"][number]): string {
  const type = ipamOf(plugin)?.type;
  return typeof type === "string" ? `+${type}` : "";
}
