// The OCI bundle of a pause container: a config.json that points at the shared read-only rootfs
// and joins the sandbox's network namespace by path (or none: host network). Modelled on
// `runc spec` (same mounts, masked and read-only paths, capabilities), minus what a pause process
// does not need (terminal, cgroup mount). No oomScoreAdj: root here lacks CAP_SYS_RESOURCE, and a
// negative value makes runc fail with "can't get final child's PID from pipe".
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { writeAtomic } from "errdefer/host";
import { err, ok, type Result } from "neverthrow";
import { RuncError } from "./errors.js";
import { absolutePathProblem, cgroupsPathProblem, hostnameProblem } from "./validate.js";

export interface BundleSpec {
  readonly bundleDir: string;
  /** The shared rootfs (ensureRootfs); mounted read-only, so sandboxes cannot change it. */
  readonly rootfs: string;
  readonly hostname: string;
  /** The netns file to join; undefined: host network (no network namespace of its own). */
  readonly netnsPath: string | undefined;
  /** Absolute, under a prefix of the caller's, so that leftover cgroups are easy to find. */
  readonly cgroupsPath: string;
  /** The pause process; default `/bin/sleep 2147483647`. */
  readonly args?: readonly string[];
}

export const PAUSE_ARGS: readonly string[] = ["/bin/sleep", "2147483647"];

/** `runc spec`'s set: enough to be killed and to bind low ports, nothing else. */
const CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/** What is wrong with the spec, naming the field, or undefined. */
export function bundleSpecProblem(spec: BundleSpec): string | undefined {
  const args = spec.args ?? PAUSE_ARGS;
  return (
    absolutePathProblem("bundleDir", spec.bundleDir) ??
    absolutePathProblem("rootfs", spec.rootfs) ??
    (spec.netnsPath === undefined ? undefined : absolutePathProblem("netnsPath", spec.netnsPath)) ??
    cgroupsPathProblem(spec.cgroupsPath) ??
    hostnameProblem(spec.hostname) ??
    (!Array.isArray(args) || args.length === 0 || !args.every((a) => typeof a === "string" && !a.includes("\0"))
      ? "args must be a non-empty array of strings without NUL"
      : undefined) ??
    absolutePathProblem("args[0]", args[0]) // no PATH lookup surprises inside the container
  );
}

/** The pause container's mounts: the usual kernel file systems, nothing from the host. */
const MOUNTS: readonly Record<string, unknown>[] = [
  { destination: "/proc", type: "proc", source: "proc" },
  {
    destination: "/dev",
    type: "tmpfs",
    source: "tmpfs",
    options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
  },
  {
    destination: "/dev/pts",
    type: "devpts",
    source: "devpts",
    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
  },
  {
    destination: "/dev/shm",
    type: "tmpfs",
    source: "shm",
    options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
  },
  { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
  { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
];

/** The OCI runtime config (1.0.2) of a pause container. The spec must be valid. */
export function pauseConfig(spec: BundleSpec): Record<string, unknown> {
  const namespaces: { type: string; path?: string }[] = [
    { type: "pid" },
    { type: "ipc" },
    { type: "uts" },
    { type: "mount" },
  ];
  // Host network: no entry at all, so the container stays in runc's (the host's) namespace.
  if (spec.netnsPath !== undefined) namespaces.push({ type: "network", path: spec.netnsPath });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...(spec.args ?? PAUSE_ARGS)],
      env: ["PATH=/bin", "HOME=/"],
      cwd: "/",
      capabilities: { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES, ambient: CAPABILITIES },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: path.resolve(spec.rootfs), readonly: true },
    hostname: spec.hostname,
    mounts: structuredClone(MOUNTS),
    linux: {
      cgroupsPath: spec.cgroupsPath,
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces,
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}

/**
 * Writes `<bundleDir>/config.json` (dir created 0700) and returns bundleDir. The file is written
 * whole (writeAtomic), so runc never reads half of one. "crash" durability: the bundle serves the
 * `runc create` that follows, and after a power loss its container is gone anyway.
 */
export async function writeBundle(spec: BundleSpec): Promise<Result<string, RuncError>> {
  const subject = typeof spec.bundleDir === "string" ? spec.bundleDir : "";
  const bad = bundleSpecProblem(spec);
  if (bad !== undefined) return err(new RuncError({ operation: "bundle", subject, reason: bad }));
  try {
    await mkdir(spec.bundleDir, { recursive: true, mode: 0o700 });
    const config = `${JSON.stringify(pauseConfig(spec), null, 2)}\n`;
    await writeAtomic(path.join(spec.bundleDir, "config.json"), config, { durability: "crash" });
    return ok(spec.bundleDir);
  } catch (e) {
    return err(new RuncError({ operation: "bundle", subject, reason: (e as Error).message, cause: e }));
  }
}
