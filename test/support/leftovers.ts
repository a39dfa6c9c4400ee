// Finds what a run left behind: namespace files, nsfs (or any) mounts, temporary dirs, network
// links (bridges, veths) and cgroups with its prefix.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const netnsDirs = ["/var/run/netns", "/run/netns"];
const cgroupRoot = "/sys/fs/cgroup";

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Links named with `prefix` or enslaved to one that is (a bridge's veths): [name, description]. */
function linksWith(prefix: string): [string, string][] {
  let out = "";
  try {
    out = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return []; // no ip: nothing we could have created
  }
  const found: [string, string][] = [];
  for (const line of out.split("\n")) {
    const name = line.split(": ")[1]?.split("@")[0];
    if (name === undefined) continue;
    const master = / master (\S+) /.exec(line)?.[1];
    if (name.startsWith(prefix)) found.push([name, `link ${name}`]);
    else if (master?.startsWith(prefix) === true) found.push([name, `link ${name} (on bridge ${master})`]);
  }
  return found;
}

/** cgroup dirs named with `prefix` directly under /sys/fs/cgroup (v2) or one of its hierarchies (v1). */
function cgroupsWith(prefix: string): string[] {
  const found: string[] = [];
  for (const name of list(cgroupRoot)) {
    const dir = path.join(cgroupRoot, name);
    if (name.startsWith(prefix)) found.push(dir);
    for (const sub of list(dir)) if (sub.startsWith(prefix)) found.push(path.join(dir, sub));
  }
  return found;
}

/** Every namespace file, mount and temporary entry whose path carries `prefix`. */
export function findLeftovers(prefix: string): string[] {
  const found = new Set<string>();
  for (const dir of netnsDirs) {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      // no such dir: nothing left there
    }
    for (const name of entries) if (name.startsWith(prefix)) found.add(`netns file ${path.join("/run/netns", name)}`);
  }
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mountPoint = line.split(" ")[4];
    if (mountPoint?.includes(prefix)) found.add(`mount ${mountPoint} (${line.split(" - ")[1]?.split(" ")[0] ?? "?"})`);
  }
  for (const name of readdirSync(os.tmpdir())) {
    if (name.startsWith(prefix)) found.add(`temporary entry ${path.join(os.tmpdir(), name)}`);
  }
  for (const [, description] of linksWith(prefix)) found.add(description);
  for (const dir of cgroupsWith(prefix)) found.add(`cgroup ${dir}`);
  return [...found].sort();
}

/** Best-effort removal of what findLeftovers found, so a failed run does not litter the host. */
export function removeLeftovers(prefix: string): void {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((m): m is string => m?.includes(prefix) === true)
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      execFileSync("umount", ["--lazy", m], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
  for (const dir of netnsDirs) {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      // no such dir
    }
    for (const name of entries) if (name.startsWith(prefix)) rmSync(path.join(dir, name), { force: true });
  }
  for (const name of readdirSync(os.tmpdir())) {
    if (name.startsWith(prefix)) rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
  }
  for (const [name] of linksWith(prefix)) {
    try {
      execFileSync("ip", ["link", "del", name], { stdio: "ignore" });
    } catch {
      // gone with its peer
    }
  }
  // Deepest first; a cgroup that still has processes stays (rmdir fails with EBUSY).
  for (const dir of cgroupsWith(prefix).sort((a, b) => b.length - a.length)) {
    try {
      execFileSync("rmdir", [dir], { stdio: "ignore" });
    } catch {
      // busy or gone
    }
  }
}
