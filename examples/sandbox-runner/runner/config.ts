// The runner's options, resolved once into a typed config: defaults filled in, paths checked, the
// state dir's layout computed. Pure: nothing is created or read here.
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import { DEFAULT_CLEANUP_TIMEOUT_MS } from "errdefer";
import { spawnRunner, type CommandRunner } from "errdefer/host";
import type { NetnsDriver } from "errdefer/netns";
import type { Failpoints } from "../failpoints.js";
import { prefixProblem } from "../ownership.js";
import { trustedToolsRunner } from "../tools.js";
import { stateLayout, type StateLayout } from "../store.js";
import { ConfigError, type ConfigProblem } from "./errors.js";

export interface RunnerOptions {
  /** Default /var/lib/errdefer-sandbox-runner. */
  readonly stateDir?: string;
  /** Default /var/run/netns. */
  readonly netnsDir?: string;
  /** Default <state-dir>/cni/net.d (our own: never another runtime's configuration by accident). */
  readonly cniConfDir?: string;
  /** Default /usr/lib/cni. */
  readonly cniBinDir?: string;
  /**
   * The default conflist's host-local `dataDir`: where IP allocations are kept. Default
   * /var/lib/cni/networks (host-local's and containerd's), seen by every runner on the host, so
   * that runners with different state dirs on one bridge never hand out the same IP.
   */
  readonly cniDataDir?: string;
  /** Names of everything this runner creates on the host start with it (netns, cgroups). Default `errdefer-`. */
  readonly prefix?: string;
  /** The default conflist's bridge and subnet, written when the conf dir has none. */
  readonly bridge?: string;
  readonly subnet?: string;
  readonly networkName?: string;
  readonly failpoints?: Failpoints;
  /** How CNI plugins and runc are started (default errdefer/host's spawnRunner, runc resolved by tools.ts); each call asks for dieWithParent. */
  readonly exec?: CommandRunner;
  /** How `ip` runs (default: an `ip -batch` driver whose processes die with the runner). */
  readonly netnsDriver?: NetnsDriver;
  /** Each cleanup's deadline (default 60 s, containerd's DeferContext). */
  readonly cleanupTimeoutMs?: number;
  /** Progress lines (stderr in the CLI); default: none. */
  readonly write?: (line: string) => void;
  /** How long to wait for another runner holding the state dir's lock (default 30 s). */
  readonly lockWaitMs?: number;
  /** Called before each journal write; a throw makes the write fail (storage fault injection). */
  readonly journalFault?: (bytes: number) => void;
}

export const DEFAULTS = {
  stateDir: "/var/lib/errdefer-sandbox-runner",
  netnsDir: "/var/run/netns",
  cniBinDir: "/usr/lib/cni",
  cniDataDir: "/var/lib/cni/networks",
  prefix: "errdefer-",
  bridge: "errdefer0",
  subnet: "10.209.0.0/16",
  networkName: "errdefer",
  lockWaitMs: 30_000,
} as const;

/** The default conflist's settings (used only when the conf dir has none). */
export interface DefaultNetwork {
  readonly networkName: string;
  readonly bridge: string;
  readonly subnet: string;
}

/** Every option, resolved: what the runner's modules read, never the raw options. */
export interface RunnerConfig {
  readonly layout: StateLayout;
  readonly netnsDir: string;
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  readonly cniDataDir: string;
  readonly prefix: string;
  readonly defaultNetwork: DefaultNetwork;
  readonly failpoints: Failpoints;
  readonly exec: CommandRunner;
  readonly netnsDriver: NetnsDriver | undefined;
  readonly cleanupTimeoutMs: number;
  readonly write: (line: string) => void;
  readonly lockWaitMs: number;
  readonly journalFault: ((bytes: number) => void) | undefined;
}

const DIRS = ["stateDir", "netnsDir", "cniConfDir", "cniBinDir", "cniDataDir"] as const;

/** Why the options cannot be used (each problem names its option), or nothing. */
function problemsOf(options: RunnerOptions): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const field of DIRS) {
    const dir = options[field];
    if (dir !== undefined && (!path.isAbsolute(dir) || dir.includes("\0")))
      problems.push({ field, reason: "must be an absolute path" });
  }
  const prefix = options.prefix === undefined ? undefined : prefixProblem(options.prefix);
  if (prefix !== undefined) problems.push({ field: "prefix", reason: prefix });
  return problems;
}

/** Resolves `options` once; an unusable one is a ConfigError naming each option at fault. */
export function resolveConfig(options: RunnerOptions = {}): Result<RunnerConfig, ConfigError> {
  const problems = problemsOf(options);
  if (problems.length > 0) return err(new ConfigError(problems, "runner options"));
  const layout = stateLayout(path.resolve(options.stateDir ?? DEFAULTS.stateDir));
  return ok({
    layout,
    netnsDir: path.resolve(options.netnsDir ?? DEFAULTS.netnsDir),
    cniConfDir: path.resolve(options.cniConfDir ?? path.join(layout.root, "cni", "net.d")),
    cniBinDir: path.resolve(options.cniBinDir ?? DEFAULTS.cniBinDir),
    cniDataDir: path.resolve(options.cniDataDir ?? DEFAULTS.cniDataDir),
    prefix: options.prefix ?? DEFAULTS.prefix,
    defaultNetwork: {
      networkName: options.networkName ?? DEFAULTS.networkName,
      bridge: options.bridge ?? DEFAULTS.bridge,
      subnet: options.subnet ?? DEFAULTS.subnet,
    },
    failpoints: options.failpoints ?? new Map(),
    // runc by its checked absolute path (tools.ts); an injected exec is taken as it is.
    exec: options.exec ?? trustedToolsRunner(spawnRunner()),
    netnsDriver: options.netnsDriver,
    cleanupTimeoutMs: options.cleanupTimeoutMs ?? DEFAULT_CLEANUP_TIMEOUT_MS,
    write: options.write ?? (() => undefined),
    lockWaitMs: options.lockWaitMs ?? DEFAULTS.lockWaitMs,
    journalFault: options.journalFault,
  });
}
