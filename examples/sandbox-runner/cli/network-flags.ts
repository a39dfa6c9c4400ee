// `--bridge` and `--subnet` shape only the default conflist, written when the CNI conf dir has
// none. Once the dir has a conflist that says otherwise, the flags change nothing: `run` says so
// on stderr (a warning, not a failure: the conflist that wins is the operator's choice, as libcni
// would pick it, and the flags are often given by habit).
import type { LoadedNetworkConfig } from "../cni/index.js";
import type { Flags } from "./options.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** The bridge and the (first) subnet the conflist's bridge plugin sets, as far as it sets them. */
function bridgeSettings(loaded: LoadedNetworkConfig): { bridge?: unknown; subnet?: unknown } | undefined {
  const plugin = loaded.config.plugins.find((p) => p.type === "bridge");
  if (plugin === undefined) return undefined;
  const ipam = isObject(plugin.ipam) ? plugin.ipam : {};
  const ranges = Array.isArray(ipam.ranges) ? (ipam.ranges as unknown[]) : [];
  const first: unknown = Array.isArray(ranges[0]) ? (ranges[0] as unknown[])[0] : undefined;
  return { bridge: plugin.bridge, subnet: isObject(first) ? first.subnet : ipam.subnet };
}

/** A warning per network flag that the conflist in force ignores (it sets something else). */
export function ignoredNetworkFlags(flags: Flags, loaded: LoadedNetworkConfig): string[] {
  const settings = bridgeSettings(loaded);
  const warnings: string[] = [];
  for (const flag of ["bridge", "subnet"] as const) {
    const given = flags[flag];
    if (typeof given !== "string" || settings?.[flag] === given) continue;
    const has = settings === undefined ? "has no bridge plugin" : `sets ${flag} ${JSON.stringify(settings[flag])}`;
    warnings.push(
      `sandbox-runner: warning: --${flag} ${given} is ignored: the CNI conf dir's conflist ${loaded.file} wins (it ${has}); ` +
        `--bridge and --subnet only shape the default conflist, written when the conf dir has none`,
    );
  }
  return warnings;
}
