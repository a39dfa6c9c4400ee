// The sandbox's resources as errdefer adapters: each described as JSON, so that `recover` in
// another process releases exactly what a killed run left. Every path a description names is
// checked against the state dir before anything is removed.
import { rm, statfs } from "node:fs/promises";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import type { ResourceAdapter } from "errdefer";
import type { CommandRunner } from "errdefer/host";
import {
  createNetns,
  netnsAdapter,
  type Netns,
  type NetnsDescription,
  type NetnsDriver,
  type NetnsError,
  type NetnsSpec,
} from "errdefer/netns";
import {
  cniAdd,
  cniDel,
  UnpinnedNetworkError,
  pinNetwork,
  validateNetworkList,
  type CniNetworkList,
  type CniResult,
} from "./cni/index.js";
import { createRunc, ensureRootfs, removeCreateLeftovers, writeBundle } from "./runc/index.js";
import type { Ownership } from "./ownership.js";
import { type SandboxRecord, type StateLayout, type Store } from "./store.js";

export interface RunnerParts {
  readonly layout: StateLayout;
  readonly store: Store;
  readonly exec: CommandRunner;
  readonly netnsDriver?: NetnsDriver;
  /** The netns dir (resolved) and the name prefix: a namespace released must be ours by both. */
  readonly netnsDir: string;
  readonly prefix: string;
  /** What this state dir owns: a description naming anything else is refused, nothing released. */
  readonly owner: Ownership;
  /** The CNI plugin dir (resolved): DEL runs plugins from it only. */
  readonly cniBinDir: string;
  /** The runner's network configuration and --cni-data-dir: a stored one must match them (cni/pin.ts). */
  readonly network: () => Promise<Result<{ readonly config: CniNetworkList }, Error>>;
  readonly cniDataDir: string;
}

/** Someone else holds the sandbox name. */
export class NameTakenError extends Error {
  override readonly name = "NameTakenError";
  constructor(
    readonly key: string,
    readonly owner: string,
  ) {
    super(`failed to reserve sandbox name ${JSON.stringify(key)}: it is reserved for sandbox ${owner}`);
  }
}

/** A description naming something this state dir does not own: refused, nothing removed. */
export class ForeignPathError extends Error {
  override readonly name = "ForeignPathError";
  constructor(what: string, value: unknown) {
    super(
      `refusing to release ${what} ${JSON.stringify(value)}: it is not this state dir's (outside its dirs, or not named with its prefix and owner tag)`,
    );
  }
}

/** `id`, when it is a sandbox id of this state dir (ownership.ts); else a ForeignPathError. */
function checkId(parts: RunnerParts, id: unknown, what: string): string {
  if (!parts.owner.ownsId(id)) throw new ForeignPathError(what, id);
  return id;
}

type NameDesc = { readonly key: string; readonly id: string };

export function nameAdapter(parts: RunnerParts): ResourceAdapter<NameDesc, NameDesc, NameDesc, NameTakenError> {
  const { store } = parts;
  return {
    kind: "sandbox-name",
    plan: (spec) => ({ key: spec.key, id: spec.id }),
    acquire: async (plan): Promise<Result<NameDesc, NameTakenError>> => {
      const owner = await store.reserveName(plan.key, checkId(parts, plan.id, "sandbox name owner"));
      return owner === undefined ? ok(plan) : err(new NameTakenError(plan.key, owner));
    },
    describe: (r) => r,
    release: async (desc) => {
      // Released only if this sandbox holds it (the id is the owner token).
      await store.releaseName(desc.key, checkId(parts, desc.id, "sandbox name owner"));
    },
  };
}

type RecordDesc = { readonly id: string };

export function recordAdapter(parts: RunnerParts): ResourceAdapter<SandboxRecord, RecordDesc, RecordDesc> {
  const { store } = parts;
  const pending = new Map<string, SandboxRecord>();
  return {
    kind: "sandbox-record",
    plan: (record) => {
      pending.set(record.id, record);
      return { id: record.id };
    },
    acquire: async (plan) => {
      const record = pending.get(plan.id);
      pending.delete(plan.id);
      if (record === undefined) throw new Error(`no record planned for sandbox ${plan.id}`);
      await store.create(record);
      return plan;
    },
    describe: (r) => r,
    release: async (desc) => {
      await store.delete(checkId(parts, desc.id, "sandbox record"));
    },
  };
}

export function sandboxNetnsAdapter(
  parts: RunnerParts,
): ResourceAdapter<NetnsSpec, Netns, NetnsDescription, NetnsError> {
  const inner = netnsAdapter({
    dirs: [parts.netnsDir],
    prefix: parts.prefix,
    ...(parts.netnsDriver === undefined ? {} : { driver: parts.netnsDriver }),
  });
  return {
    kind: inner.kind,
    plan: (spec) => inner.plan(spec),
    acquire: async (plan, ctx) => {
      return createNetns({
        dir: plan.dir,
        name: plan.name,
        signal: ctx.signal,
        ...(parts.netnsDriver === undefined ? {} : { driver: parts.netnsDriver }),
      });
    },
    describe: (ns, plan) => inner.describe(ns, plan),
    release: async (desc, ctx) => {
      // Only a namespace this state dir names (<netns-dir>/<prefix><our sandbox id>): a description
      // from a journal or a record never removes another runner's namespace, nor any other file.
      if (typeof desc.dir !== "string" || path.resolve(desc.dir) !== parts.netnsDir)
        throw new ForeignPathError("network namespace in", desc.dir);
      const name: unknown = desc.name;
      if (!parts.owner.ownsNetnsName(name)) throw new ForeignPathError("network namespace", name);
      return inner.release({ dir: parts.netnsDir, name }, ctx);
    },
  };
}

export type CniDesc = {
  readonly containerId: string;
  readonly netnsPath: string;
  readonly ifName: string;
  readonly binDir: string;
  /** The network configuration ADD used: DEL uses the same, whatever the conf dir says later. */
  readonly network: CniNetworkList;
  readonly ip?: string | null;
  readonly prevResult?: CniResult | null;
};

/** statfs's f_type of a mounted namespace file (nsfs). */
const NSFS_MAGIC = 0x6e736673;

/**
 * The netns path to give a CNI DEL: "" when the file is there without a namespace mounted on it,
 * which an `ip netns add` or `del` killed part-way leaves (the namespace is gone). Plugins refuse
 * such a file ("unknown FS magic") and the DEL would fail for ever; given "", they release the IP
 * and the rest. A missing file is passed on as it is: plugins take it as gone.
 */
async function delNetnsPath(netnsPath: string): Promise<string> {
  try {
    return (await statfs(netnsPath)).type === NSFS_MAGIC ? netnsPath : "";
  } catch {
    return netnsPath;
  }
}

export function cniAdapter(parts: RunnerParts): ResourceAdapter<CniDesc, CniDesc, CniDesc> {
  const { exec } = parts;
  return {
    kind: "cni",
    plan: (spec) => spec,
    acquire: async (plan, { signal }) => {
      const added = await cniAdd({ ...plan, exec, signal });
      if (added.isErr()) return err(added.error);
      return ok({ ...plan, ip: added.value.ip ?? null, prevResult: added.value.result });
    },
    describe: (r) => r,
    release: async (desc, { signal }) => {
      const id = checkId(parts, desc.containerId, "CNI attachment of container");
      const network = validateNetworkList(desc.network);
      if (network.isErr()) return err(network.error);
      const current = await parts.network();
      if (current.isErr())
        throw new UnpinnedNetworkError(
          id,
          `the configured network cannot be loaded to check it against: ${current.error.message}`,
        );
      const pinned = pinNetwork(network.value, current.value.config, parts.cniDataDir);
      if (pinned.isErr()) throw new UnpinnedNetworkError(id, pinned.error);
      // DEL runs plugins as root inside CNI_NETNS: only our plugins, and only in this sandbox's own
      // namespace (or none), never a path a description chose (/proc/1/ns/net is the host's).
      if (typeof desc.binDir !== "string" || path.resolve(desc.binDir) !== parts.cniBinDir)
        throw new ForeignPathError("CNI plugins in", desc.binDir);
      const ownNetns = path.join(parts.netnsDir, `${parts.prefix}${id}`);
      if (desc.netnsPath !== "" && (typeof desc.netnsPath !== "string" || path.resolve(desc.netnsPath) !== ownNetns)) {
        throw new ForeignPathError("CNI attachment in network namespace", desc.netnsPath);
      }
      return cniDel({
        ...desc,
        binDir: parts.cniBinDir,
        netnsPath: desc.netnsPath === "" ? "" : await delNetnsPath(ownNetns),
        network: pinned.value.network,
        exec,
        signal,
        prevResult: desc.prevResult ?? undefined,
      });
    },
  };
}

export type BundleDesc = {
  readonly id: string;
  readonly dir: string;
  readonly hostname: string;
  readonly netnsPath: string | null;
  readonly cgroupsPath: string;
};

export function bundleAdapter(parts: RunnerParts): ResourceAdapter<BundleDesc, BundleDesc, BundleDesc> {
  const { layout } = parts;
  return {
    kind: "bundle",
    plan: (spec) => spec,
    acquire: async (plan) => {
      const rootfs = await ensureRootfs(layout.rootfs);
      if (rootfs.isErr()) return err(rootfs.error);
      const written = await writeBundle({
        bundleDir: plan.dir,
        rootfs: layout.rootfs,
        hostname: plan.hostname,
        netnsPath: plan.netnsPath ?? undefined,
        cgroupsPath: plan.cgroupsPath,
      });
      if (written.isErr()) return err(written.error);
      return ok(plan);
    },
    describe: (r) => r,
    release: async (desc) => {
      const id = checkId(parts, desc.id, "bundle of sandbox");
      if (path.resolve(desc.dir) !== path.join(layout.bundles, id)) throw new ForeignPathError("bundle", desc.dir);
      await rm(path.join(layout.bundles, id), { recursive: true, force: true });
    },
  };
}

export type ContainerDesc = { readonly id: string; readonly bundle: string };

export function containerAdapter(parts: RunnerParts): ResourceAdapter<ContainerDesc, ContainerDesc, ContainerDesc> {
  const { layout, exec, prefix } = parts;
  const runc = createRunc({ root: layout.runcRoot, exec });
  return {
    kind: "container",
    plan: (spec) => spec,
    acquire: async (plan) => {
      // runc run --detach: create + start in one process. A failed or killed one is cleaned up
      // by the release, registered first (stop + delete + create leftovers).
      const ran = await runc.run(plan.id, plan.bundle);
      return ran.isErr() ? err(ran.error) : ok(plan);
    },
    describe: (r) => r,
    release: async (desc, { signal }) => {
      const id = checkId(parts, desc.id, "container");
      // Kill the pause process and wait for it (not `runc delete --force`: ~100 ms of fixed waiting).
      const stopped = await runc.stop(id, { signal });
      if (stopped.isErr()) return err(stopped.error);
      const deleted = await runc.delete(id);
      if (deleted.isErr()) return deleted;
      // A runc create killed part-way leaves a state dir and cgroups runc does not know. The
      // cgroups path is the one run.ts gives the bundle.
      return removeCreateLeftovers(layout.runcRoot, id, `/${prefix}${id}`);
    },
  };
}

/** Every adapter the runner uses, for saga steps, releaseHeld and recover. */
export type RunnerAdapters = ReturnType<typeof runnerAdapters>;

/** The runner's adapters, by the key the saga's steps name them with. */
export function runnerAdapters(parts: RunnerParts) {
  return {
    name: nameAdapter(parts),
    record: recordAdapter(parts),
    netns: sandboxNetnsAdapter(parts),
    cni: cniAdapter(parts),
    bundle: bundleAdapter(parts),
    container: containerAdapter(parts),
  };
}
