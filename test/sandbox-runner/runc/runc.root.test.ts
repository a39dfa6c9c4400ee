// runc for real: pause containers from our busybox rootfs, in a namespace of ours or the host's
// network. Every container id and cgroups path carries the run prefix; the runc root, rootfs and
// bundles live in a test dir. afterEach stops and deletes what a test made; afterAll checks that no
// container, cgroup or mount with the prefix is left (and removes any before failing).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { spawnRunner, type CommandRunner } from "errdefer/host";
import {
  BUSYBOX,
  createRunc,
  ensureRootfs,
  writeBundle,
  type BundleSpec,
} from "../../../examples/sandbox-runner/runc/index.js";
import { createNetns, createProcessDriver, type Netns } from "../../../src/netns/index.js";
import { removeTestDir, testDir } from "../../support/netns-dirs.js";
import { describeRoot, onPath } from "../../support/root.js";
import { runPrefix } from "../../support/run-prefix.js";

const runcProblems = [
  ...(!onPath("runc") ? ["runc on PATH (Debian: runc)"] : []),
  ...(existsSync(BUSYBOX) ? [] : [`${BUSYBOX} (Debian: busybox-static)`]),
];

/** describeRoot, also requiring runc and busybox: with CI=true their absence fails. */
function describeRunc(name: string, body: () => void): void {
  describeRoot(
    name,
    body,
    runcProblems.length === 0 ? undefined : `the runc root tests need ${runcProblems.join(" and ")}`,
  );
}

const CGROUP_ROOT = "/sys/fs/cgroup";

/** Every cgroup dir (any v1 hierarchy or the unified one) whose name starts with `prefix`. */
function cgroupsNamed(prefix: string): string[] {
  const found: string[] = [];
  for (const hierarchy of readdirSync(CGROUP_ROOT)) {
    const dir = path.join(CGROUP_ROOT, hierarchy);
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      continue; // a link (cpu,cpuacct) or not a dir
    }
    for (const e of entries) if (e.startsWith(prefix)) found.push(path.join(dir, e));
  }
  return found.sort();
}

const nsInode = (file: string): number => statSync(file).ino;

/** Whether `pid` is a live process (a zombie is not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

/** A CommandRunner that tells `onRun` of each call (its argv) before passing it on. */
function observed(inner: CommandRunner, onRun: (argv: readonly string[]) => void): CommandRunner {
  return {
    run: (argv, options) => {
      onRun(argv);
      return inner.run(argv, options);
    },
    start: (argv) => inner.start(argv),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describeRunc("runc pause containers on this machine", () => {
  const work = testDir("runc");
  const root = path.join(work, "root");
  const rootfs = path.join(work, "rootfs");
  /** What each runc call was asked to do (argv after `runc --root ROOT --log-format json`). */
  const calls: string[][] = [];
  /** Called with each runc call's arguments as it starts. */
  let onCall: (args: string[]) => void = () => undefined;
  const exec = observed(spawnRunner(), (argv) => {
    calls.push(argv.slice(5));
    onCall(argv.slice(5));
  });
  const runc = createRunc({ root, exec });
  const driver = createProcessDriver();
  const containers = new Set<string>();
  const namespaces: Netns[] = [];
  let counter = 0;

  /** A fresh container id, remembered for afterEach; its cgroups path is `/<id>`. */
  const newId = (label: string): string => {
    const id = `${runPrefix}${label}${++counter}`;
    containers.add(id);
    return id;
  };
  const bundleOf = (id: string) => path.join(work, "bundles", id);
  async function bundle(id: string, over: Partial<BundleSpec> = {}): Promise<string> {
    return (
      await writeBundle({
        bundleDir: bundleOf(id),
        rootfs,
        hostname: "pod-host",
        netnsPath: undefined,
        cgroupsPath: `/${id}`,
        ...over,
      })
    )._unsafeUnwrap();
  }
  async function newNetns(): Promise<Netns> {
    const ns = (await createNetns({ name: `${runPrefix}rn${++counter}`, driver }))._unsafeUnwrap();
    namespaces.push(ns);
    return ns;
  }
  /** `runc exec` of a busybox applet inside the container; stdout and stderr together. */
  function inside(id: string, ...args: string[]): { ok: boolean; out: string } {
    try {
      return {
        ok: true,
        out: execFileSync("runc", ["--root", root, "exec", id, "/bin/busybox", ...args], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        }).trim(),
      };
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string };
      return { ok: false, out: `${x.stdout ?? ""}${x.stderr ?? ""}`.trim() };
    }
  }
  async function startPause(id: string, dir: string): Promise<number> {
    const t0 = performance.now();
    (await runc.create(id, dir))._unsafeUnwrap();
    (await runc.start(id))._unsafeUnwrap();
    return performance.now() - t0;
  }
  async function stopAndDelete(id: string): Promise<number> {
    const t0 = performance.now();
    (await runc.stop(id))._unsafeUnwrap();
    (await runc.delete(id))._unsafeUnwrap();
    return performance.now() - t0;
  }

  beforeAll(async () => {
    mkdirSync(work, { recursive: true });
    (await ensureRootfs(rootfs))._unsafeUnwrap();
  });

  afterEach(async () => {
    const problems: string[] = [];
    for (const id of containers) {
      const stopped = await runc.stop(id);
      const deleted = stopped.isOk() ? await runc.delete(id) : stopped;
      if (deleted.isErr()) problems.push(deleted.error.message);
    }
    containers.clear();
    for (const ns of namespaces.splice(0)) {
      const removed = await ns.remove();
      if (removed.isErr()) problems.push(removed.error.message);
    }
    expect(problems).toEqual([]);
  });

  afterAll(() => {
    // Our root, and the host's default, hold nothing of ours.
    const ours = (runc: string[]) =>
      execFileSync("runc", [...runc, "list", "-q"], { encoding: "utf8" })
        .split("\n")
        .filter((l) => l.startsWith(runPrefix));
    const leftContainers = [...(existsSync(root) ? ours(["--root", root]) : []), ...ours([])];
    const leftCgroups = cgroupsNamed(runPrefix);
    for (const dir of leftCgroups) {
      try {
        rmdirSync(dir);
      } catch {
        // still busy: reported below all the same
      }
    }
    const leftMounts = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((l) => l.split(" ")[4]?.includes(runPrefix));
    removeTestDir(work);
    expect({ leftContainers, leftCgroups, leftMounts }).toEqual({
      leftContainers: [],
      leftCgroups: [],
      leftMounts: [],
    });
  });

  it("runs a pause container in our network namespace: hostname set, rootfs read-only; stop and delete leave nothing", async () => {
    const ns = await newNetns();
    const id = newId("pod");
    const dir = await bundle(id, { netnsPath: ns.path, hostname: "pod-a.example" });
    const createStartMs = await startPause(id, dir);

    const state = (await runc.state(id))._unsafeUnwrap()!;
    expect(state).toMatchObject({ status: "running", bundle: dir });
    expect(state.pid).toBeGreaterThan(1);
    // It is in our namespace, not the host's.
    expect(nsInode(`/proc/${state.pid}/ns/net`)).toBe(nsInode(ns.path));
    expect(nsInode(ns.path)).not.toBe(nsInode("/proc/self/ns/net"));
    // runc start returns once the init has been told to go, maybe before it has exec'd the pause process.
    await expect
      .poll(() => readFileSync(`/proc/${state.pid}/cmdline`, "utf8").split("\0"), { timeout: 10_000, interval: 5 })
      .toEqual(["/bin/sleep", "2147483647", ""]);
    expect(inside(id, "hostname")).toEqual({ ok: true, out: "pod-a.example" });
    const touched = inside(id, "touch", "/written");
    expect(touched.ok).toBe(false);
    expect(touched.out).toContain("Read-only file system");
    expect(existsSync(path.join(rootfs, "written"))).toBe(false);
    expect(cgroupsNamed(id).length).toBeGreaterThan(0);
    expect((await runc.list())._unsafeUnwrap()).toContain(id);

    const stopDeleteMs = await stopAndDelete(id);
    expect((await runc.state(id))._unsafeUnwrap()).toBeUndefined();
    expect(cgroupsNamed(id)).toEqual([]);
    expect((await runc.list())._unsafeUnwrap()).not.toContain(id);
    // Idempotent, as CRI's StopPodSandbox and RemovePodSandbox are.
    expect((await runc.stop(id)).isOk()).toBe(true);
    expect((await runc.delete(id)).isOk()).toBe(true);
    expect((await runc.delete(id)).isOk()).toBe(true);
    console.log(
      `runc in a netns: create+start ${createStartMs.toFixed(1)} ms, stop+delete ${stopDeleteMs.toFixed(1)} ms`,
    );
  });

  it("runs a host-network pause container in the host's network namespace", async () => {
    const id = newId("host");
    await startPause(id, await bundle(id, { netnsPath: undefined, hostname: "node-pod" }));
    const { pid } = (await runc.state(id))._unsafeUnwrap()!;
    expect(nsInode(`/proc/${pid}/ns/net`)).toBe(nsInode("/proc/self/ns/net"));
    // Its own UTS namespace all the same: the host's name is untouched.
    expect(inside(id, "hostname")).toEqual({ ok: true, out: "node-pod" });
    expect(nsInode(`/proc/${pid}/ns/uts`)).not.toBe(nsInode("/proc/self/ns/uts"));
    await stopAndDelete(id);
    expect((await runc.state(id))._unsafeUnwrap()).toBeUndefined();
    expect(cgroupsNamed(id)).toEqual([]);
  });

  it("stops a container that was created but never started: kill, /proc until it is gone, then a plain delete", async () => {
    const id = newId("created");
    (await runc.create(id, await bundle(id)))._unsafeUnwrap();
    const created = (await runc.state(id))._unsafeUnwrap()!;
    expect(created.status).toBe("created");
    calls.length = 0;
    const runningAt: Record<string, boolean> = {};
    onCall = (args) => (runningAt[args[0]!] = running(created.pid));
    try {
      await stopAndDelete(id);
    } finally {
      onCall = () => undefined;
    }
    // runc delete of a created container (or delete --force) would kill it and sleep 100 ms before
    // looking; stop kills it itself and waits on /proc, found through runc's state file (no runc
    // state call, no polling runc), so the delete finds it already gone.
    expect(calls).toEqual([
      ["kill", id, "KILL"],
      ["delete", id],
    ]);
    expect(runningAt).toEqual({ kill: true, delete: false });
    expect((await runc.state(id))._unsafeUnwrap()).toBeUndefined();
    expect(cgroupsNamed(id)).toEqual([]);
  });

  it.each([
    [
      "a network namespace that does not exist",
      { netnsPath: "/run/netns/no-such-namespace" },
      /^failed to create container \S+: .*namespace path: lstat \/run\/netns\/no-such-namespace: no such file or directory$/,
    ],
    [
      "a pause binary missing from the rootfs",
      { args: ["/bin/no-such-pause"] },
      /^failed to create container \S+: .*exec: "\/bin\/no-such-pause": stat \/bin\/no-such-pause: no such file or directory$/,
    ],
  ] as const)("reports a failed create (%s) clearly and leaves no container", async (_what, over, message) => {
    const id = newId("bad");
    const e = (await runc.create(id, await bundle(id, over)))._unsafeUnwrapErr();
    expect(e.operation).toBe("create");
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(message);
    expect((await runc.state(id))._unsafeUnwrap()).toBeUndefined();
    expect((await runc.list())._unsafeUnwrap()).not.toContain(id);
    expect(cgroupsNamed(id)).toEqual([]);
  });

  it("reports a bundle whose config.json runc cannot read", async () => {
    const id = newId("badjson");
    mkdirSync(bundleOf(id), { recursive: true });
    writeFileSync(path.join(bundleOf(id), "config.json"), "{not json");
    const e = (await runc.create(id, bundleOf(id)))._unsafeUnwrapErr();
    expect(e.message).toMatch(
      /^failed to create container \S+: invalid character 'n' looking for beginning of object key string$/,
    );
    expect((await runc.state(id))._unsafeUnwrap()).toBeUndefined();
  });

  it("refuses a second container with the same id and keeps the first", async () => {
    const id = newId("dup");
    const dir = await bundle(id);
    await startPause(id, dir);
    const e = (await runc.create(id, dir))._unsafeUnwrapErr();
    expect(e.message).toMatch(/^failed to create container \S+: container with given ID already exists$/);
    expect((await runc.state(id))._unsafeUnwrap()?.status).toBe("running");
  });

  it("measures create+start and stop+delete over sequential cycles, and 4 in parallel; each stop is one kill", async () => {
    const ns = await newNetns();
    const up: number[] = [];
    const down: number[] = [];
    for (let i = 0; i < 10; i++) {
      const id = newId("cycle");
      const dir = await bundle(id, { netnsPath: ns.path });
      up.push(await startPause(id, dir));
      calls.length = 0;
      down.push(await stopAndDelete(id));
      expect(calls).toEqual([
        ["kill", id, "KILL"],
        ["delete", id],
      ]);
    }
    const parallel = async () => {
      const id = newId("par");
      await startPause(id, await bundle(id, { netnsPath: ns.path }));
      await stopAndDelete(id);
    };
    const t0 = performance.now();
    await Promise.all([parallel(), parallel(), parallel(), parallel()]);
    const parallelMs = performance.now() - t0;
    console.log(
      `runc (10 sequential cycles): create+start median ${median(up).toFixed(1)} ms (max ${Math.max(...up).toFixed(1)}), ` +
        `stop+delete median ${median(down).toFixed(1)} ms (max ${Math.max(...down).toFixed(1)}); 4 parallel cycles: ${parallelMs.toFixed(1)} ms`,
    );
  });
});
