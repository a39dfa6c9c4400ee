// The OCI bundle of a pause container: config.json pointing at the shared read-only rootfs and
// joining the sandbox's network namespace by path. No negative oom_score_adj: root here lacks
// CAP_SYS_RESOURCE and runc would fail.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import { RuncError } from "./errors.js";

export interface BundleSpec {
  readonly bundleDir: string;
  readonly rootfs: string;
  readonly hostname: string;
  /** The netns to join; undefined: host network (no network namespace of its own). */
  readonly netnsPath: string | undefined;
  readonly cgroupsPath: string;
  readonly args?: readonly string[];
}

const hostnamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CAPS = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"];

function problem(spec: BundleSpec): string | undefined {
  for (const field of ["bundleDir", "rootfs", "cgroupsPath"] as const) {
    const v = spec[field];
    if (typeof v !== "string" || !path.isAbsolute(v) || v.includes("\0")) return `${field} must be an absolute path`;
  }
  if (spec.netnsPath !== undefined && (!path.isAbsolute(spec.netnsPath) || spec.netnsPath.includes("\0"))) return "netnsPath must be an absolute path";
  if (typeof spec.hostname !== "string" || spec.hostname.length > 63 || !hostnamePattern.test(spec.hostname)) {
    return `hostname ${JSON.stringify(spec.hostname)} must be a DNS name of at most 63 characters`;
  }
  return undefined;
}

/** The OCI runtime config of a pause container. */
export function pauseConfig(spec: BundleSpec): Record<string, unknown> {
  const namespaces: { type: string; path?: string }[] = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }];
  if (spec.netnsPath !== undefined) namespaces.push({ type: "network", path: spec.netnsPath });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: spec.args ?? ["/bin/sleep", "2147483647"],
      env: ["PATH=/bin"],
      cwd: "/",
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS, ambient: CAPS },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: spec.rootfs, readonly: true },
    hostname: spec.hostname,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    ],
    linux: {
      cgroupsPath: spec.cgroupsPath,
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces,
      maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}

/** Writes `<bundleDir>/config.json` (the dir is created 0700). */
export async function writeBundle(spec: BundleSpec): Promise<Result<string, RuncError>> {
  const bad = problem(spec);
  if (bad !== undefined) return err(new RuncError({ operation: "bundle", reason: bad }));
  try {
    await mkdir(spec.bundleDir, { recursive: true, mode: 0o700 });
    await writeFile(path.join(spec.bundleDir, "config.json"), JSON.stringify(pauseConfig(spec)), { mode: 0o600 });
    return ok(spec.bundleDir);
  } catch (e) {
    return err(new RuncError({ operation: "bundle", reason: `cannot write ${spec.bundleDir}/config.json: ${(e as Error).message}`, cause: e }));
  }
}
