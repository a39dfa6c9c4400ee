// Finds what a run left behind: namespace files, nsfs (or any) mounts and temporary dirs with its prefix.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const netnsDirs = ["/var/run/netns", "/run/netns"];

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
}
