// NODE_DEBUG=errdefer: every command a runner starts, and how and when it ended, on stderr
// (util.debuglog). One wrapper for both runners, so the trace is the same whichever is used; a
// program can send the same trace elsewhere (the sandbox runner's `--debug`) with traceCommands.
import { debuglog } from "node:util";
import type { CommandRunner } from "./types.js";

const log = debuglog("errdefer");

/** Where the trace goes when set by {@link traceCommands} (else NODE_DEBUG=errdefer decides). */
let sink: ((line: string) => void) | undefined;

/**
 * Sends the trace NODE_DEBUG=errdefer prints (each command started, and how and in how many ms it
 * ended) to `write`, one line each, for the runners made after this call; `undefined` gives the
 * decision back to NODE_DEBUG.
 */
export function traceCommands(write: ((line: string) => void) | undefined): void {
  sink = write;
}

/** `runner`, tracing each `run` when traceCommands set a sink or NODE_DEBUG names errdefer (else `runner` itself). */
export function traced(runner: CommandRunner): CommandRunner {
  const write = sink ?? (log.enabled ? (line: string) => log("%s", line) : undefined);
  if (write === undefined) return runner;
  return {
    start: (argv) => {
      write(`start ${argv.join(" ")}`);
      return runner.start(argv);
    },
    run: (argv, options) => {
      const started = performance.now();
      const ms = (): number => Math.round(performance.now() - started);
      write(`run ${argv.join(" ")}`);
      return runner
        .run(argv, options)
        .map((r) => {
          write(`${argv[0]}: exit ${r.exitCode ?? r.signal ?? "?"} in ${ms()} ms`);
          return r;
        })
        .mapErr((e) => {
          write(`${argv[0]}: failed (${e.reason}) in ${ms()} ms: ${e.message}`);
          return e;
        });
    },
  };
}
