// gc: what this state dir owns (ownership.ts: our prefix and owner tag) and no sandbox record has,
// removed by one small collector per kind (netns, IP allocations, containers, bundles, names).
// Stray cni-* namespaces are never collected by containerd (cri-o#273, containerd/cri#968); here
// they are, and only ours: another state dir's sandboxes, on the same netns dir, bridge and
// prefix, are not ours, whatever our records say.
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import { describeError } from "errdefer";
import { listNetns, sweepNetns } from "errdefer/netns";
import { cniDel, hostLocalDataDirs, listAllocations, type Allocation } from "../cni/index.js";
import type { RunnerContext } from "./context.js";
import type { OperationFailedError } from "./errors.js";
import { operationFailed } from "./failure.js";

export interface GcReport {
  readonly dryRun: boolean;
  readonly netns: readonly string[];
  readonly allocations: readonly string[];
  readonly containers: readonly string[];
  readonly bundles: readonly string[];
  readonly names: readonly string[];
  readonly failed: readonly string[];
}

/** What the records hold: anything else this state dir owns is garbage. */
interface Owned {
  readonly ids: ReadonlySet<string>;
  readonly netnsPaths: ReadonlySet<string>;
}

/** What one collector found (and, unless a dry run, removed), and what it failed to remove. */
interface Collected {
  readonly found: string[];
  readonly failed: string[];
}

/** Removes (or with `dryRun`, lists) everything of ours that no sandbox owns. */
export async function collectGarbage(
  ctx: RunnerContext,
  options: { readonly dryRun?: boolean } = {},
): Promise<Result<GcReport, OperationFailedError>> {
  const dryRun = options.dryRun ?? false;
  const records = await ctx.store.list();
  const owned: Owned = {
    ids: new Set(records.map((r) => r.id)),
    netnsPaths: new Set(records.flatMap((r) => (r.netnsPath === null ? [] : [r.netnsPath]))),
  };
  const netns = await collectNetns(ctx, owned, dryRun);
  if (netns.isErr()) return err(operationFailed("collect garbage", netns.error));
  const allocations = await collectAllocations(ctx, owned, dryRun);
  const containers = await collectContainers(ctx, owned, dryRun);
  const bundles = await collectBundles(ctx, owned, dryRun);
  const names = await collectNames(ctx, owned, dryRun);
  const all = [netns.value, allocations, containers, bundles, names];
  return ok({
    dryRun,
    netns: netns.value.found,
    allocations: allocations.found,
    containers: containers.found,
    bundles: bundles.found,
    names: names.found,
    failed: all.flatMap((c) => c.failed),
  });
}

/** Our namespaces (`<prefix><our id>`) in our netns dir that no record names. */
async function collectNetns(ctx: RunnerContext, owned: Owned, dryRun: boolean): Promise<Result<Collected, Error>> {
  const where = { dir: ctx.config.netnsDir, prefix: ctx.config.prefix };
  const keep = (p: string) => owned.netnsPaths.has(p) || !ctx.owner.ownsNetnsName(path.basename(p));
  if (dryRun) {
    const listed = await listNetns({ ...where, driver: ctx.netnsDriver });
    if (listed.isErr()) return err(listed.error);
    return ok({ found: listed.value.map((n) => n.path).filter((p) => !keep(p)), failed: [] });
  }
  const swept = await sweepNetns({ ...where, driver: ctx.netnsDriver, keep });
  if (swept.isErr()) return err(swept.error);
  return ok({ found: swept.value.removed, failed: swept.value.failed.map((f) => `${f.path}: ${f.error.message}`) });
}

/**
 * host-local IPs of our network held by an id of ours that no record has: released by a CNI DEL.
 * The data dir is shared with other runners and runtimes (--cni-data-dir): their IPs are not ours.
 */
async function collectAllocations(ctx: RunnerContext, owned: Owned, dryRun: boolean): Promise<Collected> {
  const collected: Collected = { found: [], failed: [] };
  const loaded = await ctx.network();
  if (loaded.isErr()) return collected;
  const { config: network } = loaded.value;
  const allocated: Allocation[] = [];
  for (const dir of hostLocalDataDirs(network)) {
    const listed = await listAllocations(dir, network.name);
    if (listed.isOk()) allocated.push(...listed.value);
  }
  for (const a of allocated) {
    // Only our ids: other runners and runtimes sharing the data dir keep their IPs.
    if (owned.ids.has(a.containerId) || !ctx.owner.ownsId(a.containerId)) continue;
    collected.found.push(`${a.ip} (${a.containerId})`);
    if (dryRun) continue;
    const del = await cniDel({
      network,
      containerId: a.containerId,
      netnsPath: "",
      ifName: a.ifName ?? "eth0",
      binDir: ctx.config.cniBinDir,
      exec: ctx.config.exec,
    });
    if (del.isErr()) collected.failed.push(`${a.ip}: ${del.error.message}`);
  }
  return collected;
}

/** Our containers under our runc root that no record has: stopped, then deleted. */
async function collectContainers(ctx: RunnerContext, owned: Owned, dryRun: boolean): Promise<Collected> {
  const collected: Collected = { found: [], failed: [] };
  const listed = await ctx.runc.list();
  for (const id of listed.isOk() ? listed.value : []) {
    if (owned.ids.has(id) || !ctx.owner.ownsId(id)) continue;
    collected.found.push(id);
    if (dryRun) continue;
    const stopped = await ctx.runc.stop(id);
    const deleted = stopped.isOk() ? await ctx.runc.delete(id) : stopped;
    if (deleted.isErr()) collected.failed.push(`container ${id}: ${describeError(deleted.error)}`);
  }
  return collected;
}

/** Bundle dirs named by an id of ours that no record has. */
async function collectBundles(ctx: RunnerContext, owned: Owned, dryRun: boolean): Promise<Collected> {
  const { bundles } = ctx.config.layout;
  const found: string[] = [];
  for (const name of await readdir(bundles).catch(() => [] as string[])) {
    if (!ctx.owner.ownsId(name) || owned.ids.has(name)) continue;
    found.push(name);
    if (!dryRun) await rm(path.join(bundles, name), { recursive: true, force: true });
  }
  return { found, failed: [] };
}

/** Name reservations for an id of ours that no record has (or torn by a crash: owned by nobody). */
async function collectNames(ctx: RunnerContext, owned: Owned, dryRun: boolean): Promise<Collected> {
  const found: string[] = [];
  for (const n of await ctx.store.listNames()) {
    const torn = n.key === "";
    if (!torn && (owned.ids.has(n.id) || !ctx.owner.ownsId(n.id))) continue;
    found.push(torn ? path.basename(n.file) : n.key);
    if (!dryRun) await rm(n.file, { force: true });
  }
  return { found, failed: [] };
}
