// The driver interface: how one `ip` command line gets executed (one process each, or a batch).
import type { CommandRunner } from "../internal/command/types.js";

/** What became of one `ip` command line. */
export type IpOutcome =
  | {
      readonly kind: "answered";
      readonly failed: boolean;
      /** The real exit code with one process per op; `undefined` in a batch, where lines have none. */
      readonly exitCode: number | undefined;
      readonly stderr: string;
    }
  /** The process died, was killed, never started, or was closed before answering. */
  | { readonly kind: "lost"; readonly reason: string };

/** Runs `ip` command lines; the namespace logic above it is the same for every driver. */
export interface NetnsDriver {
  readonly kind: "process" | "batch";
  /** The runner for everything that is not an `ip netns add/del` line (unshare, umount, exec). */
  readonly runner: CommandRunner;
  /** Runs `ip <args>`; never rejects. */
  ip(args: readonly string[]): Promise<IpOutcome>;
  /** Ends any long-running process; a later `ip()` starts a new one. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
