// `--debug`: every command the runner starts (CNI plugins, runc, ip, mount), and how and in how
// long it ended, on stderr. The trace is errdefer's own (NODE_DEBUG=errdefer prints the same lines);
// --debug only sends it to the CLI's stderr writer, escaped like every other line.
import { traceCommands } from "errdefer/host";

const PREFIX = "sandbox-runner: debug:";

/** Turns the trace on, for the runners made from now on; returns what ends the CLI command's own trace. */
export function debugTrace(warn: (line: string) => void, command: string): () => void {
  traceCommands((line) => warn(`${PREFIX} ${line}`));
  const started = performance.now();
  warn(`${PREFIX} ${command} started`);
  return () => warn(`${PREFIX} ${command} ended in ${Math.round(performance.now() - started)} ms`);
}
