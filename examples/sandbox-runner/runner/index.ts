// The sandbox runner: RunPodSandbox / StopPodSandbox / RemovePodSandbox as errdefer sagas, plus
// list, inspect, recover and gc, one module per verb. Runner is a thin facade over them; it holds
// the state dir's lock while it is open.
import type { Result } from "neverthrow";
import type { FileJournal, JournalError } from "errdefer/journal";
import type { LoadedNetworkConfig } from "../cni/index.js";
import { loadOwnerTag, Ownership } from "../ownership.js";
import type { PodConfig } from "../pod-config.js";
import { prepareStateDir, type SandboxRecord, type StateLayout, type Store } from "../store.js";
import { resolveConfig, type RunnerConfig, type RunnerOptions } from "./config.js";
import { createContext, type CallOptions, type RunnerContext } from "./context.js";
import type {
  AbandonedResourcesError,
  AmbiguousIdError,
  ConfigError,
  OperationFailedError,
  SandboxNotFoundError,
} from "./errors.js";
import { collectGarbage, type GcReport } from "./gc.js";
import { recoverRunner, type RunnerRecoveryReport } from "./recover.js";
import { releaseReserve, restoreReserve } from "./reserve.js";
import { removePodSandbox, type RemoveOptions } from "./remove.js";
import { runPodSandbox } from "./run.js";
import { takeStateLock } from "./served.js";
import { inspectSandbox, listSandboxes } from "./status.js";
import { stopPodSandbox } from "./stop.js";

export { DEFAULTS, resolveConfig, type RunnerConfig, type RunnerOptions } from "./config.js";
export type { CallOptions } from "./context.js";
export type { RemoveOptions } from "./remove.js";
export * from "./errors.js";
export type { GcReport } from "./gc.js";
export { holdsRefusal, type Quarantined } from "./quarantine.js";
export type { RunnerRecoveryReport } from "./recover.js";
export { removeServerClaim, StateDirServedError, writeServerClaim, type ServerClaim } from "./served.js";
export { details, SandboxReader, summary, type SandboxSummary } from "./status.js";
export { cleanupName, FAILPOINT_TARGETS, STEPS, type StepName } from "./steps.js";

export class Runner {
  readonly #ctx: RunnerContext;
  readonly #unlock: () => Promise<void>;

  private constructor(ctx: RunnerContext, unlock: () => Promise<void>) {
    this.#ctx = ctx;
    this.#unlock = unlock;
  }

  /** Resolves `options`, prepares the state dir and takes its lock; throws a ConfigError if unusable. */
  static async open(options: RunnerOptions = {}): Promise<Runner> {
    const config = resolveConfig(options);
    if (config.isErr()) throw config.error;
    return Runner.openResolved(config.value);
  }

  /** Prepares the state dir and takes its lock (another runner on it is waited for; the CRI server's is refused). */
  static async openResolved(config: RunnerConfig): Promise<Runner> {
    await prepareStateDir(config.layout);
    const owner = new Ownership(await loadOwnerTag(config.layout.owner), config.prefix);
    // Held by the CRI server: refused at once (runner/served.ts); by another command: waited for.
    const unlock = await takeStateLock(config.layout, config.lockWaitMs);
    // The lock is an flock held until released or until this process exits: never leak it.
    try {
      return new Runner(createContext(config, owner), unlock);
    } catch (error) {
      await unlock();
      throw error;
    }
  }

  async close(): Promise<void> {
    try {
      await this.#ctx.journal.close();
      await restoreReserve(this.layout.root);
    } finally {
      await this.#unlock();
    }
  }

  /** `await using runner = await Runner.open(...)`: closes it when the block is left. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Before a verb that frees space: the reserve goes first, so that what it writes fits. */
  async #freeing<T>(verb: () => Promise<T>): Promise<T> {
    await releaseReserve(this.layout.root);
    return verb();
  }

  get config(): RunnerConfig {
    return this.#ctx.config;
  }

  get layout(): StateLayout {
    return this.#ctx.config.layout;
  }

  get store(): Store {
    return this.#ctx.store;
  }

  get journal(): FileJournal {
    return this.#ctx.journal;
  }

  /** The network configuration (the default conflist is written on first use), loaded once. */
  network(): Promise<Result<LoadedNetworkConfig, Error>> {
    return this.#ctx.network();
  }

  /** RunPodSandbox. On failure, everything is rolled back, or kept for a retry and reported. */
  run(config: PodConfig, call: CallOptions = {}): Promise<Result<SandboxRecord, OperationFailedError | ConfigError>> {
    return runPodSandbox(this.#ctx, config, call);
  }

  /** StopPodSandbox: kill the pause process, CNI DEL, remove the netns. An unknown id is success. */
  stop(
    idOrPrefix: string,
    call: CallOptions = {},
  ): Promise<Result<SandboxRecord | undefined, AmbiguousIdError | OperationFailedError>> {
    return this.#freeing(() => stopPodSandbox(this.#ctx, idOrPrefix, call));
  }

  /**
   * RemovePodSandbox: stop, then the container, bundle, record and name. An unknown id is success.
   * With `force`, releases that fail are given up on and reported (AbandonedResourcesError).
   */
  remove(
    idOrPrefix: string,
    call: RemoveOptions = {},
  ): Promise<Result<undefined, AmbiguousIdError | OperationFailedError | AbandonedResourcesError>> {
    return this.#freeing(() => removePodSandbox(this.#ctx, idOrPrefix, call));
  }

  /** Every sandbox, oldest first; unreadable records are reported through `problems`. */
  list(problems?: string[]): Promise<SandboxRecord[]> {
    return listSandboxes(this.#ctx, problems);
  }

  /** One sandbox by its id or a unique prefix of it. */
  inspect(idOrPrefix: string): Promise<Result<SandboxRecord, SandboxNotFoundError | AmbiguousIdError>> {
    return inspectSandbox(this.#ctx, idOrPrefix);
  }

  /** After a crash: journal recovery (a run killed part-way is rolled back), then the store is reconciled. */
  recover(call: CallOptions = {}): Promise<Result<RunnerRecoveryReport, JournalError>> {
    return this.#freeing(() => recoverRunner(this.#ctx, call));
  }

  /** Removes what our prefixes name and no sandbox owns: namespaces, IPs, containers, bundles, names. */
  gc(options: { readonly dryRun?: boolean } = {}): Promise<Result<GcReport, OperationFailedError>> {
    return this.#freeing(() => collectGarbage(this.#ctx, options));
  }
}
