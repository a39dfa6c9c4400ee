// The shared rootfs: built once, atomically, whatever the number of concurrent callers.
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureRootfs } from "../../../examples/sandbox-runner/runc/index.js";
import { runPrefix } from "../../support/run-prefix.js";

const work = mkdtempSync(path.join(os.tmpdir(), `${runPrefix}runc-rootfs-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));
// A stand-in for /usr/bin/busybox: the unit tests only copy it.
const busybox = path.join(work, "busybox");
writeFileSync(busybox, "#!busybox\n", { mode: 0o644 });

describe("ensureRootfs", () => {
  it("builds bin/busybox, bin/sleep -> busybox and the dirs runc mounts onto", async () => {
    const dir = path.join(work, "state", "rootfs");
    expect((await ensureRootfs(dir, busybox))._unsafeUnwrap()).toBe(dir);
    expect(readFileSync(path.join(dir, "bin", "busybox"), "utf8")).toBe("#!busybox\n");
    expect(statSync(path.join(dir, "bin", "busybox")).mode & 0o777).toBe(0o755);
    expect(readlinkSync(path.join(dir, "bin", "sleep"))).toBe("busybox");
    for (const d of ["proc", "dev", "sys", "tmp", "etc", "run"])
      expect(lstatSync(path.join(dir, d)).isDirectory()).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o755);
    // No temporary dir left next to it.
    expect(readdirSync(path.dirname(dir))).toEqual(["rootfs"]);
  });

  it("leaves an existing rootfs alone", async () => {
    const dir = path.join(work, "again");
    (await ensureRootfs(dir, busybox))._unsafeUnwrap();
    const before = statSync(path.join(dir, "bin", "busybox")).ino;
    (await ensureRootfs(dir, busybox))._unsafeUnwrap();
    expect(statSync(path.join(dir, "bin", "busybox")).ino).toBe(before);
  });

  it("is safe with concurrent callers: all succeed, one rootfs, no temporary dirs", async () => {
    const parent = path.join(work, "race");
    const dir = path.join(parent, "rootfs");
    const results = await Promise.all(Array.from({ length: 16 }, () => ensureRootfs(dir, busybox)));
    for (const r of results) expect(r._unsafeUnwrap()).toBe(dir);
    expect(readdirSync(parent)).toEqual(["rootfs"]);
    expect(readlinkSync(path.join(dir, "bin", "sleep"))).toBe("busybox");
  });

  it("names the missing busybox and leaves nothing", async () => {
    const parent = path.join(work, "nobusybox");
    const r = await ensureRootfs(path.join(parent, "rootfs"), path.join(work, "no-such-busybox"));
    const e = r._unsafeUnwrapErr();
    expect(e.operation).toBe("rootfs");
    expect(e.message).toMatch(
      /^failed to build the rootfs .*nobusybox\/rootfs: .*no-such-busybox does not exist \(Debian: apt-get install busybox-static\)$/,
    );
    expect(readdirSync(parent)).toEqual([]);
  });

  it("refuses a dir that is something else", async () => {
    const dir = path.join(work, "other");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "precious"), "x");
    const e = (await ensureRootfs(dir, busybox))._unsafeUnwrapErr();
    expect(e.message).toContain("is not a pause rootfs");
    expect(readdirSync(dir)).toEqual(["precious"]);
    expect(readdirSync(work).filter((n) => n.startsWith("other."))).toEqual([]);
  });

  it("wants absolute paths", async () => {
    expect((await ensureRootfs("rootfs", busybox))._unsafeUnwrapErr().message).toContain("must be an absolute path");
  });
});
