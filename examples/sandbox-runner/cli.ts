// sandbox-runner: RunPodSandbox / StopPodSandbox / RemovePodSandbox on real network namespaces,
// CNI plugins and runc, as an errdefer saga. The commands are in cli/commands.ts; the exit codes
// (0 ok, 1 the operation failed, 2 bad usage or config: nothing created) in cli/exit-codes.ts.
import { main } from "./cli/main.js";

process.exitCode = await main(process.argv.slice(2));
