// The sandbox runner's CNI module: network configuration, plugin ADD/DEL, host-local allocations.
export {
  loadNetworkConfig,
  ensureNetworkConfig,
  defaultNetworkConfig,
  defaultConfigFileName,
  validateNetworkList,
  parseNetworkConfig,
  pluginTypeProblem,
  ipv4CidrProblem,
} from "./config.js";
export type { LoadedNetworkConfig, DefaultNetworkSettings } from "./config.js";
export { cniAdd, cniDel, pluginStdin, pluginFailure } from "./plugins.js";
export { missingBinaries, type BinaryProblem } from "./binaries.js";
export type { CniInvocation, CniDelInvocation, CniAddOutcome, CniDelOutcome } from "./plugins.js";
export { listAllocations, parseAllocation, hostLocalDataDirs, hostLocalDefaultDataDir } from "./allocations.js";
export type { Allocation } from "./allocations.js";
export { sandboxIp } from "./result.js";
export { pinNetwork, UnpinnedNetworkError, type PinnedNetwork } from "./pin.js";
export { CniError, CniDelError, CniConfigError, isCniError } from "./errors.js";
export type { CniLocalCode, CniCommand, CniDelFailure, CniConfigErrorCode, CniErrorInit } from "./errors.js";
export type { CniNetworkList, CniPluginConfig, CniResult, CniInterface, CniIpConfig } from "./types.js";
