// The simple driver: one `ip` process per operation.
import type { IpOutcome, NetnsDriver } from "./driver.js";
import { execaRunner } from "../internal/command/execa-runner.js";
import type { CommandRunner } from "../internal/command/types.js";

/** How `createProcessDriver` starts one `ip` process per command. */
export interface ProcessDriverOptions {
  readonly runner?: CommandRunner;
}

/** A driver that starts one `ip` process per operation: slower, with nothing long-running. */
export function createProcessDriver(options: ProcessDriverOptions = {}): NetnsDriver {
  const runner = options.runner ?? execaRunner();
  return {
    kind: "process",
    runner,
    ip(args) {
      return runner.run(["ip", ...args]).match(
        (result): IpOutcome =>
          result.exitCode === undefined
            ? { kind: "lost", reason: `ip was killed by ${result.signal}` }
            : {
                kind: "answered",
                failed: result.exitCode !== 0,
                exitCode: result.exitCode,
                stderr: result.stderr.trim(),
              },
        (failure): IpOutcome => ({ kind: "lost", reason: failure.message }),
      );
    },
    async close() {},
    async [Symbol.asyncDispose]() {},
  };
}
