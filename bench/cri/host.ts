// What the CRI bench makes on the host and how it finds and removes it: the per-run prefix and
// temp dir, one network (bridge, subnet, CNI conf and bin dirs, host-local data dir) per runtime,
// and the inventory of what a runtime left behind (netns files, veths on its bridge, IP
// allocations, runc containers), which the failure comparison prints and the teardown removes.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";
import { sh } from "../shell.js";

export const SYSTEM_CNI_BIN = "/usr/lib/cni";
const PLUGINS = ["bridge", "host-local", "loopback"] as const;
/** libcni's result cache (containerd 1.6 cannot move it): entries are named <network>-<id>-<ifname>. */
const CNI_RESULTS = "/var/lib/cni/results";
const CGROUP_ROOT = "/sys/fs/cgroup";

/**
 * How a conflist is broken for the failure comparison: a plugin after bridge whose binary is not
 * in the bin dir, or one that is there and fails every ADD and DEL. Either way, under a runtime
 * that runs the chain, bridge ADD has made a veth and taken an IP when the chain fails, and the
 * chain's DEL fails before it reaches bridge (containerd#12130).
 */
export const BREAKS = ["missing", "failing"] as const;
export type Break = (typeof BREAKS)[number];

/** One runtime's network: its own bridge, subnet, conflists and plugin copies, all named with the run's prefix. */
export interface Network {
  readonly name: string;
  readonly bridge: string;
  readonly subnet: string;
  /** The conflist of bridge + host-local + loopback, and the broken ones (one conf dir each). */
  readonly confDirs: { readonly good: string } & Readonly<Record<Break, string>>;
  /** Copies of the system plugins and the failing one (root's, 0755, so the runner's trust checks pass). */
  readonly binDir: string;
  /** host-local's dataDir; its allocations are files under <dataDir>/<name>. */
  readonly ipamDir: string;
}

export interface RunEnv {
  /** `edcri` + 4 hex + `-`: on the temp dir, bridges, networks, cgroups and our server's namespaces. */
  readonly prefix: string;
  readonly tmp: string;
  /** The dirs of libcni's cache that did not exist before the run (removed at the end if empty). */
  readonly newCacheDirs: readonly string[];
}

export async function makeRunEnv(): Promise<RunEnv> {
  const prefix = `edcri${randomBytes(2).toString("hex")}-`;
  const tmp = await mkdtemp(path.join(tmpdir(), prefix));
  const newCacheDirs = [CNI_RESULTS, path.dirname(CNI_RESULTS)].filter((dir) => !existsSync(dir));
  return { prefix, tmp, newCacheDirs };
}

/**
 * Whether a libcni cache entry is of this run's pods: containerd also caches its built-in
 * `cni-loopback` network, whose entries carry no name of ours, only the pod's CNI args (the bench's
 * pod uids start with `uid-<its pid>-`).
 */
async function cachedForThisRun(file: string): Promise<boolean> {
  try {
    const entry = JSON.parse(await readFile(file, "utf8")) as { cniArgs?: unknown };
    const args = Array.isArray(entry.cniArgs) ? (entry.cniArgs as unknown[]) : [];
    return args.some(
      (a) => Array.isArray(a) && a[0] === "K8S_POD_UID" && String(a[1]).startsWith(`uid-${process.pid}-`),
    );
  } catch {
    return false;
  }
}

/**
 * What earlier runs left (a bench killed by SIGKILL cannot tear down): temp dirs, links and
 * containerd processes named with another run's prefix. Only reported: another bench may be
 * running now, and its runtimes are not ours to stop.
 */
export async function earlierRuns(env: RunEnv): Promise<string[]> {
  const found: string[] = [];
  const ours = (name: string) => /^edcri[0-9a-f]{4}-/.test(name) && !name.startsWith(env.prefix);
  for (const name of await list(tmpdir())) if (ours(name)) found.push(`temp dir ${path.join(tmpdir(), name)}`);
  for (const line of (await sh(["ip", "-o", "link", "show"])).stdout.split("\n")) {
    const name = line.split(": ")[1]?.split("@")[0];
    if (name !== undefined && ours(name)) found.push(`link ${name}`);
  }
  for (const entry of await list("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0");
    const config = argv[argv.indexOf("--config") + 1] ?? "";
    if (path.basename(argv[0] ?? "") === "containerd" && ours(path.basename(path.dirname(path.dirname(config)))))
      found.push(`containerd pid ${entry} (${config})`);
  }
  return found;
}

/** A /24 in 10.250.0.0/16 that no address or route on the host overlaps. */
export async function freeSubnets(count: number): Promise<string[]> {
  const used = (await sh(["ip", "-o", "-4", "addr"])).stdout + (await sh(["ip", "-4", "route"])).stdout;
  if (/\b10\.250\./.test(used) || /\b10\.0\.0\.0\/8\b/.test(used)) {
    throw new Error("the host uses 10.250.0.0/16 (or all of 10/8): no free subnet for the CRI bench");
  }
  const third = randomBytes(1)[0]! % 250;
  return Array.from({ length: count }, (_, i) => `10.250.${third + i}.0/24`);
}

/** The name of the plugin that breaks the chain. */
export const breakingPlugin = (net: Pick<Network, "name">, how: Break) => `${net.name}-${how}`;

/** A plugin that answers VERSION and fails everything else with a CNI error. */
const FAILING_PLUGIN = `#!/bin/sh
# errdefer's CRI bench: a CNI plugin that fails every ADD and DEL.
if [ "$CNI_COMMAND" = VERSION ]; then
  echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}'
  exit 0
fi
cat >/dev/null
echo '{"cniVersion":"1.0.0","code":999,"msg":"the bench plugin fails every ADD and DEL"}'
exit 1
`;

function conflist(net: Omit<Network, "confDirs">, how: Break | undefined): string {
  const plugins: object[] = [
    {
      type: "bridge",
      bridge: net.bridge,
      isGateway: false,
      ipMasq: false,
      ipam: { type: "host-local", ranges: [[{ subnet: net.subnet }]], dataDir: net.ipamDir },
    },
  ];
  if (how !== undefined) plugins.push({ type: breakingPlugin(net, how) });
  plugins.push({ type: "loopback" });
  return `${JSON.stringify({ cniVersion: "1.0.0", name: net.name, plugins }, null, 2)}\n`;
}

/** Writes one runtime's network under `dir`: its conf dirs, plugin copies and data dir. */
export async function makeNetwork(dir: string, name: string, bridge: string, subnet: string): Promise<Network> {
  const base = { name, bridge, subnet, binDir: path.join(dir, "cni-bin"), ipamDir: path.join(dir, "cni-ipam") };
  const confDirs = {
    good: path.join(dir, "net.d"),
    missing: path.join(dir, "net-missing.d"),
    failing: path.join(dir, "net-failing.d"),
  };
  for (const d of [...Object.values(confDirs), base.binDir, base.ipamDir])
    await mkdir(d, { recursive: true, mode: 0o755 });
  for (const p of PLUGINS) await copyFile(path.join(SYSTEM_CNI_BIN, p), path.join(base.binDir, p));
  await writeFile(path.join(base.binDir, breakingPlugin(base, "failing")), FAILING_PLUGIN, { mode: 0o755 });
  await writeFile(path.join(confDirs.good, `10-${name}.conflist`), conflist(base, undefined));
  for (const how of BREAKS) await writeFile(path.join(confDirs[how], `10-${name}.conflist`), conflist(base, how));
  return { ...base, confDirs };
}

async function list(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Mount points at or under `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  return info
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Host-side interfaces enslaved to `bridge` (the pods' veths). */
export async function vethsOn(bridge: string): Promise<string[]> {
  const out = (await sh(["ip", "-o", "link", "show", "master", bridge])).stdout;
  return out
    .split("\n")
    .map((line) => line.split(": ")[1]?.split("@")[0])
    .filter((n): n is string => n !== undefined && n !== "");
}

/** host-local's allocation files for the network (one per IP; not its lock or last_reserved_ip). */
export async function allocations(net: Network): Promise<string[]> {
  return (await list(path.join(net.ipamDir, net.name))).filter(
    (f) => f !== "lock" && !f.startsWith("last_reserved_ip"),
  );
}

/** Ids of the runc containers under `root`. */
export async function runcContainers(root: string): Promise<string[]> {
  const r = await sh(["runc", "--root", root, "list", "-q"]);
  return r.code === 0 ? r.stdout.split("\n").filter((l) => l !== "") : [];
}

/** Kills and deletes every runc container under `root` (a pause process a runtime left); returns the failures. */
export async function deleteRuncContainers(root: string): Promise<string[]> {
  const problems: string[] = [];
  for (const id of await runcContainers(root)) {
    const r = await sh(["runc", "--root", root, "delete", "--force", id]);
    if (r.code !== 0) problems.push(`runc --root ${root} delete --force ${id}: ${r.stderr.trim()}`);
  }
  return problems;
}

/** What a runtime left on the host, as the failure comparison reports it. */
export interface Leftovers {
  readonly netnsFiles: string[];
  readonly netnsMounted: number;
  readonly veths: string[];
  readonly ipAllocations: string[];
  readonly runcContainers: string[];
}

export async function inventory(net: Network, netnsDir: string, runcRoot: string): Promise<Leftovers> {
  const netnsFiles = await list(netnsDir);
  const mounts = new Set(await mountsUnder(netnsDir));
  return {
    netnsFiles,
    netnsMounted: netnsFiles.filter((f) => mounts.has(path.join(netnsDir, f))).length,
    veths: await vethsOn(net.bridge),
    ipAllocations: await allocations(net),
    runcContainers: await runcContainers(runcRoot),
  };
}

/**
 * Removes by force what the runtimes left in the run's names: mounts under the temp dir (netns
 * files, rootfs, shm), the veths on each bridge, then the bridges, libcni's cached results of the
 * networks and of containerd's loopback for this run's pods (and the cache dirs the run made), cgroups named with the prefix, and the temp dir. Returns what it could not remove.
 */
export async function sweep(env: RunEnv, networks: readonly Pick<Network, "name" | "bridge">[]): Promise<string[]> {
  const problems: string[] = [];
  await unmountAll(env.tmp);
  for (const net of networks) {
    for (const veth of await vethsOn(net.bridge)) await sh(["ip", "link", "del", veth]);
    const r = await sh(["ip", "link", "del", net.bridge]);
    if (r.code !== 0 && !/Cannot find device/.test(r.stderr))
      problems.push(`ip link del ${net.bridge}: ${r.stderr.trim()}`);
    for (const f of await list(CNI_RESULTS)) {
      if (f.startsWith(`${net.name}-`)) await rm(path.join(CNI_RESULTS, f), { force: true });
    }
  }
  for (const f of await list(CNI_RESULTS)) {
    const file = path.join(CNI_RESULTS, f);
    if (f.startsWith("cni-loopback-") && (await cachedForThisRun(file))) await rm(file, { force: true });
  }
  for (const dir of env.newCacheDirs) await rmdir(dir).catch(() => undefined);
  // A cgroup dir named with the prefix at the top of a hierarchy (v1) or of the v2 tree, with what
  // is under it (containerd's sandboxes under <prefix>ctrd are named by id), deepest first.
  for (const top of [CGROUP_ROOT, ...(await list(CGROUP_ROOT)).map((h) => path.join(CGROUP_ROOT, h))]) {
    for (const e of await list(top)) {
      if (!e.startsWith(env.prefix)) continue;
      const dir = path.join(top, e);
      const r = await sh(["find", dir, "-depth", "-type", "d", "-delete"]);
      if (r.code !== 0) problems.push(`cgroup ${dir}: ${r.stderr.trim()}`);
    }
  }
  // A netns file still mounted in another mount namespace (a runc init that is dying) is EBUSY
  // for a moment: unmount again and retry.
  for (let attempt = 1; ; attempt++) {
    try {
      await rm(env.tmp, { recursive: true, force: true });
      break;
    } catch (e) {
      if (attempt === 10) {
        problems.push(`rm ${env.tmp}: ${String(e)}; mounts left: ${(await mountsUnder(env.tmp)).join(", ") || "none"}`);
        break;
      }
      await sleep(200);
      await unmountAll(env.tmp);
    }
  }
  return problems;
}

/** Lazily unmounts everything at or under `dir`, deepest first ("not mounted" is fine: a parent's went first). */
async function unmountAll(dir: string): Promise<void> {
  for (const m of await mountsUnder(dir)) await sh(["umount", "--lazy", m]);
}
