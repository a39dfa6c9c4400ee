// Temporary custom netns dirs under os.tmpdir(), named with the run prefix, and their teardown.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runPrefix } from "./run-prefix.js";

/** A path under os.tmpdir() carrying the run prefix; createNetns makes it. */
export function testDir(label: string): string {
  return path.join(os.tmpdir(), `${runPrefix}${label}`);
}

function mountedAt(dir: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === dir);
}

/** Unmounts the dir's own bind mount(s) (left when a test keeps a namespace there) and deletes it. */
export function removeTestDir(dir: string): void {
  for (let i = 0; i < 10 && mountedAt(dir); i++) execFileSync("umount", ["--lazy", dir]);
  rmSync(dir, { recursive: true, force: true });
}
