// containerd 1.6 for the CRI bench, started and stopped by the bench itself: its own config, root,
// state, sockets, runc root and opt dir under the run's temp dir (never /etc/containerd,
// /var/lib/containerd or /run/containerd's socket), the CRI plugin on the run's CNI network with
// netns files under its state dir, and the busybox pause image imported with ctr. One thing
// containerd 1.6 does not let us move: its shims' sockets in /run/containerd/s, which the teardown
// removes (and the directories, when this run made them).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync, closeSync } from "node:fs";
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ImageService, RuntimeService } from "../../examples/sandbox-runner/cri/gen/api_pb.js";
import { unaryClient } from "../../examples/sandbox-runner/cri/grpc.js";
import { sh } from "../shell.js";
import { removeAllSandboxes, type CriRuntime } from "./cycle.js";
import { deleteRuncContainers, type Network } from "./host.js";
import { buildPauseImage, PAUSE_IMAGE } from "./pause-image.js";

const SHIM_SOCKETS = "/run/containerd/s";
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
/** The CRI plugin's k8s.io namespace: the runc shim keeps its containers under <Root>/k8s.io. */
const NAMESPACE = "k8s.io";

/** Why the containerd side cannot run here, with how to fix it; undefined when it can. */
export async function containerdMissing(): Promise<string | undefined> {
  for (const tool of ["containerd", "ctr", "containerd-shim-runc-v2"]) {
    const found = await sh(["sh", "-c", `command -v ${tool}`]).catch(() => undefined);
    if (found?.code !== 0) return `${tool} is not installed (apt-get install containerd)`;
  }
  return undefined;
}

export interface StopOptions {
  readonly keepSandboxes?: boolean;
}

export interface Containerd {
  readonly runtime: CriRuntime;
  readonly pid: number;
  /**
   * Ends it: what the CRI can remove, then the process (by its pid), then what it left. With
   * `keepSandboxes` only the process, for a restart that finds its sandboxes again.
   */
  stop(opts?: StopOptions): Promise<string[]>;
}

function configToml(dir: string, net: Network, confDir: string): string {
  const q = JSON.stringify;
  const cri = '[plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${q(path.join(dir, "root"))}
state = ${q(path.join(dir, "state"))}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = ${q(path.join(dir, "containerd.sock"))}
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = ${q(path.join(dir, "opt"))}
  [plugins."io.containerd.runtime.v1.linux"]
    runtime_root = ${q(path.join(dir, "runc-v1"))}
  ${cri}]
    sandbox_image = ${q(PAUSE_IMAGE)}
    # Root here lacks CAP_SYS_RESOURCE: the sandboxes' -998 oom_score_adj would make runc fail.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    disable_apparmor = true
    ${cri}.cni]
      bin_dir = ${q(net.binDir)}
      conf_dir = ${q(confDir)}
    ${cri}.containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      ${cri}.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        ${cri}.containerd.runtimes.runc.options]
          Root = ${q(path.join(dir, "runc"))}
`;
}

async function tail(file: string): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.trim().split("\n").slice(-8).join("\n");
}

/** Waits until the CRI says the runtime and the network are ready (or containerd died). */
async function ready(child: ChildProcess, rt: CriRuntime, log: string): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS;
  let last = "";
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`containerd exited (${child.exitCode ?? child.signalCode}) while starting:\n${await tail(log)}`);
    try {
      const { status } = await rt.client.status({}, { timeoutMs: 2000 });
      const down = status?.conditions.filter((c) => !c.status).map((c) => `${c.type}: ${c.message}`) ?? ["no status"];
      if (down.length === 0) return;
      last = down.join("; ");
    } catch (e) {
      last = String(e);
    }
    await sleep(100);
  }
  throw new Error(`containerd was not ready after ${START_TIMEOUT_MS} ms (${last}):\n${await tail(log)}`);
}

/** Imports the pause image once, and waits until the CRI plugin's image store has it. */
async function ensureImage(dir: string, sock: string): Promise<void> {
  const images = unaryClient(ImageService, `unix://${sock}`);
  try {
    const has = async () => (await images.imageStatus({ image: { image: PAUSE_IMAGE } }, { timeoutMs: 5000 })).image;
    if ((await has()) !== undefined) return;
    const archive = await buildPauseImage(path.join(dir, "pause-image"));
    const r = await sh(["ctr", "-a", sock, "-n", NAMESPACE, "images", "import", archive]);
    if (r.code !== 0) throw new Error(`ctr images import: ${(r.stdout + r.stderr).trim()}`);
    for (let i = 0; i < 100 && (await has()) === undefined; i++) await sleep(50);
    if ((await has()) === undefined) throw new Error(`the CRI plugin does not see ${PAUSE_IMAGE} after the import`);
  } finally {
    images.close();
  }
}

/**
 * Starts containerd with `confDir` as its CNI conf dir (the net's good or broken conflist) and
 * the pause image in place. `dir` persists across restarts (the image stays imported).
 */
export async function startContainerd(dir: string, net: Network, confDir: string, prefix: string): Promise<Containerd> {
  const config = path.join(dir, "config.toml");
  const sock = path.join(dir, "containerd.sock");
  const log = path.join(dir, "containerd.log");
  const madeShimDirs = !existsSync(path.dirname(SHIM_SOCKETS));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(config, configToml(dir, net, confDir));
  const fd = openSync(log, "a");
  const child = spawn("containerd", ["--config", config], { stdio: ["ignore", fd, fd], detached: true });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", () => undefined); // reported by ready() as an early exit
  const runtime: CriRuntime = {
    name: "containerd",
    client: unaryClient(RuntimeService, `unix://${sock}`),
    network: net,
    netnsDir: path.join(dir, "state", "io.containerd.grpc.v1.cri", "netns"),
    runcRoot: path.join(dir, "runc", NAMESPACE),
    cgroupParent: `/${prefix}ctrd`,
  };
  const handle: Containerd = {
    runtime,
    pid: child.pid ?? -1,
    stop: (opts = {}) =>
      stopContainerd(child, exited, runtime, { dir, sock, madeShimDirs, keep: opts.keepSandboxes === true }),
  };
  try {
    await ready(child, runtime, log);
    await ensureImage(dir, sock);
  } catch (e) {
    const problems = await handle.stop();
    if (problems.length > 0) console.error(`containerd cleanup problems:\n  ${problems.join("\n  ")}`);
    throw e;
  }
  return handle;
}

async function stopContainerd(
  child: ChildProcess,
  exited: Promise<void>,
  rt: CriRuntime,
  { dir, sock, madeShimDirs, keep }: { dir: string; sock: string; madeShimDirs: boolean; keep: boolean },
): Promise<string[]> {
  const problems: string[] = [];
  const running = child.exitCode === null && child.signalCode === null;
  if (running && !keep) problems.push(...(await removeAllSandboxes(rt)));
  rt.client.close();
  if (running && child.pid !== undefined) {
    child.kill("SIGTERM");
    const gone = await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!gone) {
      problems.push(`containerd (pid ${child.pid}) ignored SIGTERM for ${STOP_TIMEOUT_MS} ms: killed`);
      child.kill("SIGKILL");
      await exited;
    }
  }
  if (keep) return problems;
  // What a failed run or a kept sandbox left: its runc containers (the pause processes), then the
  // shims of this containerd (their -address is our socket) and the sockets they leave when
  // killed (each task's bundle dir names its shim's in `address`), then their socket dirs.
  problems.push(...(await deleteRuncContainers(rt.runcRoot)));
  const shims = await shimsOf(sock);
  for (const pid of shims) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  for (let i = 0; i < 50 && shims.some((pid) => existsSync(`/proc/${pid}`)); i++) await sleep(20);
  const tasks = path.join(dir, "state", "io.containerd.runtime.v2.task", NAMESPACE);
  for (const id of await readdir(tasks).catch(() => [])) {
    const address = (await readFile(path.join(tasks, id, "address"), "utf8").catch(() => "")).trim();
    const socket = address.replace(/^unix:\/\//, "");
    if (path.dirname(socket) === SHIM_SOCKETS) await rm(socket, { force: true });
  }
  if (madeShimDirs) {
    await rmdir(SHIM_SOCKETS).catch(() => undefined);
    await rmdir(path.dirname(SHIM_SOCKETS)).catch(() => undefined);
  }
  return problems;
}

/** Pids of containerd-shim-runc-v2 processes serving the containerd at `sock`. */
async function shimsOf(sock: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0");
    const at = argv.indexOf("-address");
    if (path.basename(argv[0] ?? "").startsWith("containerd-shim") && at >= 0 && argv[at + 1] === sock) {
      pids.push(Number(entry));
    }
  }
  return pids;
}
