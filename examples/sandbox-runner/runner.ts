// The sandbox runner: RunPodSandbox / StopPodSandbox / RemovePodSandbox as errdefer pipelines,
// plus list, inspect, recover and gc. One Runner holds the state dir's lock while it is open.
import { randomUUID } from "node:crypto";
import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import {
  describeError,
  releaseHeld,
  saga,
  TransactionError,
  type AnyResourceAdapter,
  type HeldResource,
  type TransactionEvent,
} from "errdefer";
import { FileJournal, recover, type JournalError, type RecoveryReport } from "errdefer/journal";
import { listNetns, sweepNetns, type NetnsDriver } from "errdefer/netns";
import { selfIdentity } from "errdefer/host";
import { takeLockFile } from "errdefer/host";
import {
  cniDel,
  ensureNetworkConfig,
  listAllocations,
  type CniNetworkList,
  type LoadedNetworkConfig,
} from "./cni/index.js";
import { execaExec, type Exec } from "./exec.js";
import { hit, hitSync, type Failpoints } from "./failpoints.js";
import { JOURNAL_WRITE } from "./steps.js";
import type { PodConfig } from "./pod-config.js";
import { progress, type Progress } from "./progress.js";
import { runnerAdapters, type CniDesc, type RunnerParts } from "./resources.js";
import { createRunc } from "./runc/index.js";
import {
  prepareStateDir,
  sandboxKey,
  stateLayout,
  Store,
  sweepTempFiles,
  type SandboxRecord,
  type StateLayout,
} from "./store.js";

export interface RunnerOptions {
  /** Default /var/lib/errdefer-sandbox-runner. */
  readonly stateDir?: string;
  /** Default /var/run/netns. */
  readonly netnsDir?: string;
  /** Default <state-dir>/cni/net.d (our own: never another runtime's configuration by accident). */
  readonly cniConfDir?: string;
  /** Default /usr/lib/cni. */
  readonly cniBinDir?: string;
  /** Names of everything this runner creates on the host start with it (netns, cgroups). Default `errdefer-`. */
  readonly prefix?: string;
  /** The default conflist's bridge and subnet, written when the conf dir has none. */
  readonly bridge?: string;
  readonly subnet?: string;
  readonly networkName?: string;
  readonly failpoints?: Failpoints;
  readonly exec?: Exec;
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

/** Per-call options of run / stop / remove. */
export interface CallOptions {
  /** Failpoints for this call only (instead of the runner's). */
  readonly failpoints?: Failpoints;
}

export const DEFAULTS = {
  stateDir: "/var/lib/errdefer-sandbox-runner",
  netnsDir: "/var/run/netns",
  cniBinDir: "/usr/lib/cni",
  prefix: "errdefer-",
  bridge: "errdefer0",
  subnet: "10.209.0.0/16",
  networkName: "errdefer",
} as const;

/** What `ls --json` prints per sandbox. */
export interface SandboxSummary {
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly state: SandboxRecord["state"];
  readonly netnsPath: string | null;
  readonly ip: string | null;
  readonly createdAt: string;
  readonly hostNetwork: boolean;
}

export function summary(r: SandboxRecord): SandboxSummary {
  return {
    id: r.id,
    name: r.name,
    namespace: r.namespace,
    state: r.state,
    netnsPath: r.netnsPath,
    ip: r.ip,
    createdAt: r.createdAt,
    hostNetwork: r.hostNetwork,
  };
}

export interface GcReport {
  readonly dryRun: boolean;
  readonly netns: readonly string[];
  readonly allocations: readonly string[];
  readonly containers: readonly string[];
  readonly bundles: readonly string[];
  readonly names: readonly string[];
  readonly failed: readonly string[];
}

const STOP_KINDS: ReadonlySet<string> = new Set(["container", "cni", "netns"]);

export class Runner {
  readonly layout: StateLayout;
  readonly store: Store;
  readonly journal: FileJournal;
  readonly #options: RunnerOptions;
  readonly #parts: RunnerParts;
  readonly #adapters: ReturnType<typeof runnerAdapters>;
  readonly #adapterList: readonly AnyResourceAdapter[];
  readonly #unlock: () => Promise<void>;
  #network: Promise<Result<LoadedNetworkConfig, Error>> | undefined;

  private constructor(options: RunnerOptions, layout: StateLayout, unlock: () => Promise<void>) {
    this.#options = options;
    this.layout = layout;
    this.store = new Store(layout);
    const failpoints = options.failpoints ?? new Map();
    const journalFault = options.journalFault;
    this.journal = new FileJournal(layout.journal, {
      beforeWrite: (bytes) => {
        hitSync(failpoints, JOURNAL_WRITE);
        journalFault?.(bytes);
      },
    });
    this.#unlock = unlock;
    this.#parts = {
      layout,
      store: this.store,
      exec: options.exec ?? execaExec,
      failpoints: options.failpoints ?? new Map(),
      ...(options.netnsDriver === undefined ? {} : { netnsDriver: options.netnsDriver }),
      netnsDir: path.resolve(options.netnsDir ?? DEFAULTS.netnsDir),
      prefix: options.prefix ?? DEFAULTS.prefix,
      cniBinDir: path.resolve(options.cniBinDir ?? DEFAULTS.cniBinDir),
    };
    this.#adapters = runnerAdapters(this.#parts);
    this.#adapterList = Object.values(this.#adapters) as AnyResourceAdapter[];
  }

  /** Prepares the state dir and takes its lock (another runner on it is waited for). */
  static async open(options: RunnerOptions = {}): Promise<Runner> {
    const layout = stateLayout(path.resolve(options.stateDir ?? DEFAULTS.stateDir));
    await prepareStateDir(layout);
    const unlock = await takeLockFile(layout.lock, selfIdentity(), { waitMs: options.lockWaitMs ?? 30_000 });
    return new Runner(options, layout, unlock);
  }

  async close(): Promise<void> {
    await this.journal.close();
    await this.#unlock();
  }

  get prefix(): string {
    return this.#options.prefix ?? DEFAULTS.prefix;
  }

  get netnsDir(): string {
    return path.resolve(this.#options.netnsDir ?? DEFAULTS.netnsDir);
  }

  get cniBinDir(): string {
    return path.resolve(this.#options.cniBinDir ?? DEFAULTS.cniBinDir);
  }

  get cniConfDir(): string {
    return path.resolve(this.#options.cniConfDir ?? path.join(this.layout.root, "cni", "net.d"));
  }

  #progress(header: string): Progress {
    return progress(this.#options.write ?? (() => undefined), header);
  }

  /** The network configuration (the default conflist is written on first use), loaded once. */
  network(): Promise<Result<LoadedNetworkConfig, Error>> {
    this.#network ??= (async () => {
      const o = this.#options;
      const loaded = await ensureNetworkConfig(this.cniConfDir, {
        networkName: o.networkName ?? DEFAULTS.networkName,
        bridge: o.bridge ?? DEFAULTS.bridge,
        subnet: o.subnet ?? DEFAULTS.subnet,
        dataDir: this.layout.cniData,
      });
      return loaded.isErr()
        ? err<LoadedNetworkConfig, Error>(loaded.error)
        : ok<LoadedNetworkConfig, Error>(loaded.value);
    })();
    return this.#network;
  }

  /** RunPodSandbox. On failure, everything is rolled back, or kept for a retry and reported. */
  /** The adapters for one call: the runner's, or ones with the call's own failpoints. */
  #adaptersFor(call: CallOptions) {
    return call.failpoints === undefined
      ? this.#adapters
      : runnerAdapters({ ...this.#parts, failpoints: call.failpoints });
  }

  async run(config: PodConfig, call: CallOptions = {}): Promise<Result<SandboxRecord, TransactionError | Error>> {
    const id = randomUUID().replaceAll("-", "");
    const { hostNetwork } = config;
    let network: CniNetworkList | undefined;
    if (!hostNetwork) {
      const loaded = await this.network();
      if (loaded.isErr()) return err(loaded.error);
      network = loaded.value.config;
    }
    const a = this.#adaptersFor(call);
    const netnsName = `${this.prefix}${id}`;
    const netnsPath = hostNetwork ? null : path.join(this.netnsDir, netnsName);
    const bundleDir = path.join(this.layout.bundles, id);
    const { metadata: md } = config;
    const initial: SandboxRecord = {
      v: 1,
      id,
      name: md.name,
      namespace: md.namespace,
      uid: md.uid,
      attempt: md.attempt,
      state: "NOTREADY",
      createdAt: new Date().toISOString(),
      hostNetwork,
      netnsPath,
      ip: null,
      hostname: config.hostname ?? null,
      labels: config.labels,
      annotations: config.annotations,
      resources: [],
      steps: [],
      error: null,
    };
    const report = this.#progress("rollback:");
    const held: HeldResource[] = [];
    const released = new Set<string>();
    const failpoints = call.failpoints ?? this.#parts.failpoints;
    const pipeline = saga("RunPodSandbox")
      .resource("reserve-name", a.name, { spec: () => ({ key: sandboxKey(md), id }), guard: true })
      .resource("create-record", a.record, { spec: () => initial, guard: true })
      .resource("create-netns", a.netns, {
        spec: () => ({ dir: this.netnsDir, name: netnsName }),
        guard: true,
        when: () => !hostNetwork,
      })
      .resource("cni-add", a.cni, {
        spec: (): CniDesc => ({
          containerId: id,
          netnsPath: netnsPath ?? "",
          ifName: "eth0",
          binDir: this.cniBinDir,
          network: network!,
        }),
        // CNI ADD can allocate (veth, IP) and still fail: its DEL is registered before it runs.
        registerFirst: true,
        when: () => !hostNetwork,
      })
      .resource("create-bundle", a.bundle, {
        spec: () => ({
          id,
          dir: bundleDir,
          hostname: config.hostname ?? md.name,
          netnsPath,
          cgroupsPath: `/${this.prefix}${id}`,
        }),
        registerFirst: true, // a half-written bundle dir is removed too
      })
      // runc create can succeed and start fail: the container is stopped and deleted either way.
      .resource("start-container", a.container, { spec: () => ({ id, bundle: bundleDir }), registerFirst: true })
      .step("mark-ready", {
        run: async (ctx) => {
          await hit(failpoints, "mark-ready");
          const ready: SandboxRecord = {
            ...initial,
            state: "READY",
            ip: ctx["cni-add"]?.ip ?? null,
            resources: [...held],
            steps: [...report.log],
          };
          // The store takes ownership here (containerd: rollback = false).
          await this.store.write(ready);
          return ready;
        },
      });
    const result = await pipeline.run(undefined, {
      journal: this.journal,
      ...(this.#options.cleanupTimeoutMs === undefined ? {} : { cleanupTimeoutMs: this.#options.cleanupTimeoutMs }),
      onStep: (e) => {
        report.onStep(e);
        if (e.type === "step:succeeded" && e.resource !== undefined) held.push(e.resource);
        if (e.type === "step:failed" && e.resource !== undefined) held.push(e.resource);
      },
      onEvent: (e) => {
        report.onEvent(e);
        if (e.type === "cleanup:succeeded") released.add(e.label);
      },
    });
    if (result.isOk()) return ok(result.value.context["mark-ready"]);
    // A guarded cleanup kept the record: the sandbox stays listed as NOTREADY with what it still
    // holds, for stop / rm to retry (containerd#5768).
    const kept = await this.store.read(id);
    const unreleased = held.filter((r) => !released.has(r.step));
    if (kept !== undefined || unreleased.length > 0) {
      // When the record is gone but the name is not (release-name, which runs after
      // delete-record, failed), a record is written again to hold it: otherwise nothing would
      // ever retry its release and the name would stay taken.
      await this.store.write({
        ...(kept ?? initial),
        state: "NOTREADY",
        resources: unreleased,
        steps: [...report.log],
        error: result.error.message,
      });
    }
    return err(result.error);
  }

  /** Releases a record's resources of the given kinds through releaseHeld; updates the record. */
  async #release(
    record: SandboxRecord,
    kinds: ReadonlySet<string> | undefined,
    name: string,
    call: CallOptions,
  ): Promise<Result<SandboxRecord | undefined, TransactionError>> {
    const toRelease = record.resources.filter((r) => kinds === undefined || kinds.has(r.kind));
    const report = this.#progress(`${name}:`);
    const released = new Set<string>();
    const result =
      toRelease.length === 0
        ? ok(undefined)
        : await releaseHeld(
            { saga: name, tx: record.id, resources: toRelease },
            Object.values(this.#adaptersFor(call)) as AnyResourceAdapter[],
            {
              journal: this.journal,
              ...(this.#options.cleanupTimeoutMs === undefined
                ? {}
                : { cleanupTimeoutMs: this.#options.cleanupTimeoutMs }),
              onEvent: (e: TransactionEvent) => {
                report.onEvent(e);
                if (e.type === "cleanup:succeeded") released.add(e.label);
              },
            },
          );
    const remaining = record.resources.filter((r) => !(toRelease.includes(r) && released.has(r.step)));
    const recordGone = toRelease.some((r) => r.kind === "sandbox-record" && released.has(r.step));
    // Everything released: a record that held only what is now gone (see run) is deleted too.
    const nothingLeft = kinds === undefined && result.isOk() && remaining.length === 0;
    if (recordGone || nothingLeft) {
      if (result.isOk()) {
        if (!recordGone) await this.store.delete(record.id);
        return ok(undefined);
      }
      // The record was deleted and a later cleanup (release-name) failed: keep a record of what
      // is still held, so that the next rm retries it.
      if (remaining.length > 0) {
        await this.store.write({
          ...record,
          state: "NOTREADY",
          ip: null,
          resources: remaining,
          steps: [...record.steps, ...report.log],
          error: result.error.message,
        });
      }
      return err(result.error);
    }
    const cniReleased = toRelease.some((r) => r.kind === "cni" && released.has(r.step));
    const updated: SandboxRecord = {
      ...record,
      state: "NOTREADY",
      ip: cniReleased ? null : record.ip,
      resources: remaining,
      steps: [...record.steps, ...report.log],
      error: result.isErr() ? result.error.message : null,
    };
    await this.store.write(updated);
    return result.isOk() ? ok(updated) : err(result.error);
  }

  /** StopPodSandbox: kill the pause process, CNI DEL, remove the netns. An unknown id is success. */
  async stop(
    idOrPrefix: string,
    call: CallOptions = {},
  ): Promise<Result<SandboxRecord | undefined, TransactionError | Error>> {
    const record = await this.store.resolve(idOrPrefix);
    if (record === "ambiguous") return err(new Error(`sandbox id prefix ${JSON.stringify(idOrPrefix)} is ambiguous`));
    if (record === undefined) return ok(undefined);
    return this.#release(record, STOP_KINDS, "StopPodSandbox", call);
  }

  /** RemovePodSandbox: stop, then delete the container, bundle, record and name. Unknown: success. */
  async remove(idOrPrefix: string, call: CallOptions = {}): Promise<Result<undefined, TransactionError | Error>> {
    const stopped = await this.stop(idOrPrefix, call);
    if (stopped.isErr()) return err(stopped.error);
    if (stopped.value === undefined) return ok(undefined);
    const removed = await this.#release(stopped.value, undefined, "RemovePodSandbox", call);
    return removed.isErr() ? err(removed.error) : ok(undefined);
  }

  list(problems?: string[]): Promise<SandboxRecord[]> {
    return this.store.list(problems);
  }

  /** After a crash: journal recovery (a run killed part-way is rolled back), then the store is reconciled. */
  async recover(): Promise<Result<RecoveryReport, JournalError>> {
    const report = await recover(this.journal, this.#adapterList, {
      ...(this.#options.cleanupTimeoutMs === undefined ? {} : { cleanupTimeoutMs: this.#options.cleanupTimeoutMs }),
      // A run killed after the store took the sandbox (READY) but before its commit was durable.
      isOwned: async (t) => {
        const rec = t.resources.find((r) => r.kind === "sandbox-record" && r.status !== "released");
        const id = (rec?.desc as { id?: unknown } | undefined)?.id;
        return typeof id === "string" && (await this.store.read(id).catch(() => undefined))?.state === "READY";
      },
    });
    if (report.isErr()) return report;
    // Records half-written by a killed runner (its temp file, never renamed into place).
    await sweepTempFiles(
      [this.layout.sandboxes, this.layout.names],
      async (pid) => pid === process.pid || (await pidAlive(pid)),
    );
    // What recovery could not release stays with its sandbox, for rm to retry.
    const leftOver = [...report.value.failed, ...report.value.retained];
    for (const left of leftOver) {
      const id = sandboxIdOf(left.description);
      const record = id === undefined ? undefined : await this.store.read(id);
      if (record === undefined || record.resources.some((r) => r.step === left.step)) continue;
      const resource: HeldResource = {
        step: left.step,
        kind: left.kind,
        guard: left.kind === "netns",
        description: left.description,
      };
      const resources = [...record.resources, resource].sort((x, y) => stepOrder(x.step) - stepOrder(y.step));
      await this.store.write({ ...record, state: "NOTREADY", resources, error: `recovery left ${left.step} behind` });
    }
    // A READY sandbox whose pause process is gone is not ready any more.
    const runc = createRunc({ root: this.layout.runcRoot, exec: this.#parts.exec });
    for (const record of await this.store.list()) {
      if (record.state !== "READY") continue;
      const state = await runc.state(record.id);
      if (state.isOk() && state.value?.status === "running") continue;
      await this.store.write({ ...record, state: "NOTREADY", error: "the pause container is not running" });
    }
    return report;
  }

  /** Removes what our prefixes name and no sandbox owns: namespaces, IPs, containers, bundles, names. */
  async gc(options: { readonly dryRun?: boolean } = {}): Promise<Result<GcReport, Error>> {
    const dryRun = options.dryRun ?? false;
    const records = await this.store.list();
    const ids = new Set(records.map((r) => r.id));
    const netnsPaths = new Set(records.flatMap((r) => (r.netnsPath === null ? [] : [r.netnsPath])));
    const failed: string[] = [];
    const netns: string[] = [];
    if (dryRun) {
      const listed = await listNetns({ dir: this.netnsDir, prefix: this.prefix });
      if (listed.isErr()) return err(listed.error);
      netns.push(...listed.value.map((n) => n.path).filter((p) => !netnsPaths.has(p)));
    } else {
      const swept = await sweepNetns({ dir: this.netnsDir, prefix: this.prefix, keep: (p) => netnsPaths.has(p) });
      if (swept.isErr()) return err(swept.error);
      netns.push(...swept.value.removed);
      failed.push(...swept.value.failed.map((f) => `${f.path}: ${f.error.message}`));
    }

    const allocations: string[] = [];
    const loaded = await this.network();
    if (loaded.isOk()) {
      const { config } = loaded.value;
      const allocated = await listAllocations(this.layout.cniData, config.name);
      for (const a of allocated.isOk() ? allocated.value : []) {
        if (ids.has(a.containerId) || !/^[0-9a-f]{32}$/.test(a.containerId)) continue;
        allocations.push(`${a.ip} (${a.containerId})`);
        if (dryRun) continue;
        const del = await cniDel({
          network: config,
          containerId: a.containerId,
          netnsPath: "",
          ifName: a.ifName ?? "eth0",
          binDir: this.cniBinDir,
          exec: this.#parts.exec,
        });
        if (del.isErr()) failed.push(`${a.ip}: ${del.error.message}`);
      }
    }

    const containers: string[] = [];
    const runc = createRunc({ root: this.layout.runcRoot, exec: this.#parts.exec });
    const listed = await runc.list();
    for (const cid of listed.isOk() ? listed.value : []) {
      if (ids.has(cid)) continue;
      containers.push(cid);
      if (dryRun) continue;
      const stopped = await runc.stop(cid);
      const deleted = stopped.isOk() ? await runc.delete(cid) : stopped;
      if (deleted.isErr()) failed.push(`container ${cid}: ${describeError(deleted.error)}`);
    }

    const bundles: string[] = [];
    for (const name of await readdir(this.layout.bundles).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{32}$/.test(name) || ids.has(name)) continue;
      bundles.push(name);
      if (!dryRun) await rm(path.join(this.layout.bundles, name), { recursive: true, force: true });
    }

    const names: string[] = [];
    for (const n of await this.store.listNames()) {
      if (ids.has(n.id)) continue;
      names.push(n.key === "" ? path.basename(n.file) : n.key);
      if (!dryRun) await rm(n.file, { force: true });
    }
    return ok({ dryRun, netns, allocations, containers, bundles, names, failed });
  }
}

/** Whether a PID is a live (non-zombie) process; the start time is not recorded in a temp file name. */
async function pidAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function sandboxIdOf(desc: unknown): string | undefined {
  if (typeof desc !== "object" || desc === null) return undefined;
  const d = desc as { id?: unknown; containerId?: unknown; name?: unknown };
  for (const v of [d.id, d.containerId]) if (typeof v === "string" && /^[0-9a-f]{32}$/.test(v)) return v;
  const fromName = typeof d.name === "string" ? /([0-9a-f]{32})$/.exec(d.name)?.[1] : undefined;
  return fromName;
}

const ORDER = ["reserve-name", "create-record", "create-netns", "cni-add", "create-bundle", "start-container"];
function stepOrder(step: string): number {
  const i = ORDER.indexOf(step);
  return i === -1 ? ORDER.length : i;
}
