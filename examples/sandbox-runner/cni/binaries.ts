// Every binary a network list would run, checked before a run creates anything: each plugin's
// `type` and its `ipam.type`, looked for in the bin dir as ADD would look for them. A name that
// is not there makes ADD fail half-way and DEL fail for ever (the IPAM plugin is what DEL calls),
// so it is a config problem, not a run that fails.
import { pluginTypeProblem } from "./config.js";
import { locatePlugin } from "./plugins.js";
import type { CniNetworkList } from "./types.js";

export interface BinaryProblem {
  /** The field, as the network list names it: `plugins[0].ipam.type`. */
  readonly field: string;
  readonly reason: string;
}

/** The plugin and IPAM types of `network` that name no usable binary in `binDir`. */
export async function missingBinaries(network: CniNetworkList, binDir: string): Promise<BinaryProblem[]> {
  const wanted: { field: string; type: unknown }[] = [];
  for (const [i, plugin] of network.plugins.entries()) {
    wanted.push({ field: `plugins[${i}].type`, type: plugin.type });
    const ipam = plugin.ipam;
    if (ipam === undefined) continue;
    const type = typeof ipam === "object" && ipam !== null ? (ipam as { type?: unknown }).type : undefined;
    // No IPAM type means no IPAM plugin; a present one must name a binary.
    if (type !== undefined) wanted.push({ field: `plugins[${i}].ipam.type`, type });
  }
  const problems: BinaryProblem[] = [];
  for (const { field, type } of wanted) {
    const invalid = pluginTypeProblem(type);
    if (invalid !== undefined) {
      problems.push({ field, reason: invalid });
      continue;
    }
    const located = await locatePlugin(binDir, type as string);
    if (located.kind === "missing")
      problems.push({ field, reason: `no plugin ${JSON.stringify(type)} in the CNI bin dir ${binDir}` });
    else if (located.kind === "invalid") problems.push({ field, reason: located.reason });
  }
  return problems;
}
