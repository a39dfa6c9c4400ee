// Small tmpfs mounts for full-disk tests (root only), each under a run-prefixed temp dir, and a
// filler file that takes the space a test wants gone. With CI=true a machine that cannot mount
// fails the suite rather than skipping it.
import { execFileSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { describe, test } from "vitest";
import { tempDir } from "../support/journal.js";

const PAGE = 4096;

function mountedAt(dir: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === dir);
}

/** Why a tmpfs cannot be mounted here, or undefined when it can (tried once, for real). */
function tmpfsProblem(): string | undefined {
  if (process.getuid?.() !== 0) return "the full-disk tests mount a tmpfs: they need root";
  const probe = tempDir("tmpfs-probe");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", probe], { stdio: "pipe" });
  } catch (e) {
    return `the full-disk tests could not mount a tmpfs: ${(e as Error).message}`;
  } finally {
    if (mountedAt(probe)) execFileSync("umount", [probe]);
    rmSync(probe, { recursive: true, force: true });
  }
  return undefined;
}

/** describe() for tests that mount a tmpfs; skips without root, fails instead when CI=true. */
export function describeTmpfs(name: string, body: () => void): void {
  const problem = tmpfsProblem();
  if (problem !== undefined && process.env.CI === "true") {
    describe(name, () => {
      test("can mount a tmpfs (CI=true: a missing prerequisite fails rather than skips)", () => {
        throw new Error(problem);
      });
    });
    return;
  }
  describe.skipIf(problem !== undefined)(name, body);
}

const mounted: string[] = [];

/** A fresh tmpfs of `size` (mount syntax: "64k", "2m"), mode 0700; unmount with `unmountAll`. */
export function mountTmpfs(label: string, size: string): string {
  const dir = tempDir(label);
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  mounted.push(dir);
  return dir;
}

/** Unmounts every tmpfs `mountTmpfs` made (call from afterAll, before removing the temp dirs). */
export function unmountAll(): void {
  for (const dir of mounted.splice(0)) {
    for (let i = 0; i < 10 && mountedAt(dir); i++) execFileSync("umount", ["--lazy", dir]);
  }
}

/** A file that fills the file system it is in; `leave(n)` then frees `n` pages again. */
export interface Filler {
  /** Shrinks the filler so that exactly `pages` pages (4 KiB) are free. */
  leave(pages: number): void;
  remove(): void;
}

/** Writes a filler file in `dir` until the disk is full (ENOSPC). */
export function fillUp(dir: string): Filler {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "filler");
  const fd = openSync(file, "w", 0o600);
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  let size = 0;
  try {
    for (;;) {
      const n = writeSync(fd, chunk);
      size += n;
      if (n < chunk.length) {
        // A short write: the next one gets ENOSPC (on tmpfs, at a page boundary).
        continue;
      }
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  }
  if (size % PAGE !== 0) throw new Error(`filler size ${size} is not page-aligned`);
  const full = size;
  return {
    leave: (pages) => ftruncateSync(fd, full - pages * PAGE),
    remove: () => {
      closeSync(fd);
      rmSync(file, { force: true });
    },
  };
}
