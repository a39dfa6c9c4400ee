// What every verb works with: the resolved config, the store, the journal, the adapters and the
// network configuration. Made once per open runner; the verbs are plain functions over it.
import { err, ok, type Result } from "neverthrow";
import { spawnRunner } from "errdefer/host";
import { FileJournal } from "errdefer/journal";
import { createBatchDriver, type NetnsDriver } from "errdefer/netns";
import { ensureNetworkConfig, type LoadedNetworkConfig } from "../cni/index.js";
import { hitSync, JOURNAL_WRITE, type Failpoints } from "../failpoints.js";
import { runnerAdapters, type RunnerAdapters } from "../resources.js";
import { createRunc, type Runc } from "../runc/index.js";
import type { Ownership } from "../ownership.js";
import { Store } from "../store.js";
import { trustedToolsRunner } from "../tools.js";
import type { RunnerConfig } from "./config.js";
import { progress, type Progress } from "./progress.js";
import { quarantining, type Quarantined } from "./quarantine.js";
import { adaptersWithFailpoints } from "./steps.js";

/** Per-call options of run / stop / remove. */
export interface CallOptions {
  /** Failpoints for this call only (instead of the runner's). */
  readonly failpoints?: Failpoints;
  /**
   * Set refused entries aside (runner/quarantine.ts) instead of failing on them: each is written to
   * <state-dir>/quarantine/ (marked as from `source`) and pushed to `into`.
   */
  readonly quarantine?: { readonly source: "journal" | "record"; readonly into: Quarantined[] };
  /** Aborts a run (a CRI client's cancellation or deadline): it stops at its next step and rolls back. */
  readonly signal?: AbortSignal;
}

export interface RunnerContext {
  readonly config: RunnerConfig;
  /** What this state dir owns (ids, netns names): gc, recover and the adapters ask it. */
  readonly owner: Ownership;
  readonly store: Store;
  readonly journal: FileJournal;
  readonly runc: Runc;
  /** How namespaces are made, listed and removed: the configured driver, else the default below. */
  readonly netnsDriver: NetnsDriver;
  /** The adapters with the failpoints of `call`, or the runner's. */
  adapters(call?: CallOptions): RunnerAdapters;
  /** The failpoints in force for `call`. */
  failpoints(call?: CallOptions): Failpoints;
  /** The network configuration (the default conflist is written on first use), loaded once. */
  network(): Promise<Result<LoadedNetworkConfig, Error>>;
  /** Progress lines under `header` when cleanups run, and the step log. */
  progress(header: string): Progress;
}

let defaultDriver: NetnsDriver | undefined;

/**
 * The default netns driver: errdefer/netns's `ip -batch` driver, its processes (and `umount`,
 * `unshare`) started by their checked absolute paths (tools.ts) with dieWithParent, so that no `ip` goes on after a killed runner; shared by
 * the process's runners, as errdefer/netns's own default is.
 */
function defaultNetnsDriver(): NetnsDriver {
  defaultDriver ??= createBatchDriver({ runner: trustedToolsRunner(spawnRunner({ dieWithParent: true })) });
  return defaultDriver;
}

export function createContext(config: RunnerConfig, owner: Ownership): RunnerContext {
  const { layout, failpoints, journalFault } = config;
  const netnsDriver = config.netnsDriver ?? defaultNetnsDriver();
  const store = new Store(layout);
  let network: Promise<Result<LoadedNetworkConfig, Error>> | undefined;
  const journal = new FileJournal(layout.journal, {
    beforeWrite: (bytes) => {
      hitSync(failpoints, JOURNAL_WRITE);
      journalFault?.(bytes);
    },
  });
  const raw = runnerAdapters({
    layout,
    store,
    exec: config.exec,
    netnsDriver,
    netnsDir: config.netnsDir,
    prefix: config.prefix,
    owner,
    cniBinDir: config.cniBinDir,
    cniDataDir: config.cniDataDir,
    network: () => (network ??= loadNetwork(config)),
  });
  const own = adaptersWithFailpoints(raw, failpoints);
  return {
    config,
    owner,
    store,
    journal,
    runc: createRunc({ root: layout.runcRoot, exec: config.exec }),
    netnsDriver,
    adapters: (call) => {
      const adapters = call?.failpoints === undefined ? own : adaptersWithFailpoints(raw, call.failpoints);
      const q = call?.quarantine;
      return q === undefined ? adapters : quarantining(adapters, layout.quarantine, q.source, q.into);
    },
    failpoints: (call) => call?.failpoints ?? failpoints,
    network: () => (network ??= loadNetwork(config)),
    progress: (header) => progress(config.write, header),
  };
}

async function loadNetwork(config: RunnerConfig): Promise<Result<LoadedNetworkConfig, Error>> {
  const loaded = await ensureNetworkConfig(config.cniConfDir, {
    ...config.defaultNetwork,
    dataDir: config.cniDataDir,
  });
  return loaded.isErr() ? err(loaded.error) : ok(loaded.value);
}
