// NODE_DEBUG=errdefer: every command a runner starts, and how and when it ended, on stderr
// (util.debuglog). One wrapper for both runners, so the trace is the same whichever is used.
import { debuglog } from "node:util";
import type { CommandRunner } from "./types.js";

const log = debuglog("errdefer");

/** `runner`, tracing each `run` when NODE_DEBUG names errdefer (else `runner` itself). */
export function traced(runner: CommandRunner): CommandRunner {
  if (!log.enabled) return runner;
  return {
    start: (argv) => {
      log("start %s", argv.join(" "));
      return runner.start(argv);
    },
    run: (argv, options) => {
      const started = performance.now();
      const ms = (): number => Math.round(performance.now() - started);
      log("run %s", argv.join(" "));
      return runner
        .run(argv, options)
        .map((r) => {
          log("%s: exit %s in %d ms", argv[0], r.exitCode ?? r.signal ?? "?", ms());
          return r;
        })
        .mapErr((e) => {
          log("%s: failed (%s) in %d ms: %s", argv[0], e.reason, ms(), e.message);
          return e;
        });
    },
  };
}
