// Storage faults: the state dir on a tiny tmpfs that fills up, and a journal write that fails.
// The operation fails with a clear error, and what was acquired is released or kept and listed
// (never forgotten): after the fault is lifted, rm and recover leave nothing.
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeSandbox, Lane, nothingHeld, SandboxEnv, show } from "./support/sandbox.js";

const pod = { metadata: { name: "storage", namespace: "faults", uid: "u1", attempt: 0 } };

async function finish(lane: Lane): Promise<void> {
  for (const s of await lane.ls()) {
    const r = await lane.cli(["rm", s.id]);
    expect(r.code, show(r)).toBe(0);
  }
  const recovered = await lane.cli(["recover"]);
  expect(recovered.code, show(recovered)).toBe(0);
  expect(await lane.ls()).toEqual([]);
  expect(lane.held()).toEqual(nothingHeld);
}

describeSandbox("storage faults", () => {
  const env = new SandboxEnv(7);
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  it("a state dir on a tmpfs that fills up: a clear ENOSPC error, nothing forgotten", async () => {
    const mount = path.join(env.work, "tiny");
    mkdirSync(mount, { mode: 0o700 });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", `${env.prefix}tmpfs`, mount]);
    try {
      const tiny = new Lane(env, path.join(mount, "state"), `${env.prefix}t-`);
      env.lanes.push(tiny);
      const config = env.podConfig(pod);
      // Nearly full: what is left cannot hold the pause rootfs (busybox), so the run fails part-way.
      const ballast = path.join(mount, "ballast");
      writeFileSync(ballast, Buffer.alloc(3 * 1024 * 1024 + 512 * 1024));
      const failed = await tiny.cli(["run", config]);
      expect(failed.code, show(failed)).toBe(1);
      expect(failed.stderr).toMatch(/no space left on device|ENOSPC/i);
      expect(failed.stderr).not.toMatch(/\n\s+at /);
      // Whatever it acquired was released, or is listed and held for rm.
      const listed = await tiny.ls();
      if (listed.length === 0) expect({ ...tiny.held(), names: [], records: [] }).toEqual(nothingHeld);
      // The fault is lifted.
      rmSync(ballast);
      await finish(tiny);
      // And the same dir works again.
      const ran = await tiny.cli(["run", config]);
      expect(ran.code, show(ran)).toBe(0);
      await finish(tiny);
    } finally {
      execFileSync("umount", [mount]);
    }
  });

  /** Writes zeros to `file` until the disk is full. */
  function fill(file: string): void {
    const fd = openSync(file, "w");
    try {
      for (const chunk = Buffer.alloc(64 * 1024); ;) writeSync(fd, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
    } finally {
      closeSync(fd);
    }
  }

  /** Files under `dir` that are temp files, or empty ones other than the flock files (kept by design). */
  function strays(dir: string): string[] {
    return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => {
      const file = path.join(dir, f);
      if (!statSync(file).isFile() || f.startsWith("rootfs")) return false;
      return f.endsWith(".tmp") || (statSync(file).size === 0 && !/(^|\/)(lock|recover\.lock)$/.test(f));
    });
  }

  it("a full state-dir disk: ls and rm still work (rm frees space), errors say the disk is full", async () => {
    const mount = path.join(env.work, "full");
    mkdirSync(mount, { mode: 0o700 });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0700", `${env.prefix}full`, mount]);
    try {
      const lane = new Lane(env, path.join(mount, "state"), `${env.prefix}f-`);
      env.lanes.push(lane);
      const ran = await lane.cli([
        "--json",
        "run",
        env.podConfig({ ...pod, metadata: { ...pod.metadata, uid: "u3" } }),
      ]);
      expect(ran.code, show(ran)).toBe(0);
      const { id } = JSON.parse(ran.stdout) as { id: string };
      fill(path.join(mount, "ballast"));

      expect((await lane.ls()).map((r) => r.id)).toEqual([id]);
      const another = await lane.cli(["run", env.podConfig({ ...pod, metadata: { ...pod.metadata, uid: "u4" } })]);
      expect(another.code, show(another)).toBe(1);
      expect(another.stderr).toContain(`the disk of the state dir ${lane.stateDir} is full (ENOSPC)`);
      const rm = await lane.cli(["rm", id]);
      expect(rm.code, show(rm)).toBe(0);
      expect(await lane.ls()).toEqual([]);
      expect(lane.held()).toEqual(nothingHeld);
      expect(strays(lane.stateDir)).toEqual([]);
      rmSync(path.join(mount, "ballast"));
      await finish(lane);
    } finally {
      execFileSync("umount", [mount]);
    }
  });

  it("a journal write that fails: the run fails with the journal's error and releases what it acquired", async () => {
    const lane = env.lane();
    const r = await lane.cli([
      "run",
      env.podConfig({ ...pod, metadata: { ...pod.metadata, uid: "u2" } }),
      "--failpoint",
      "journal-write=error",
    ]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/journal/);
    expect(r.stderr).toMatch(/injected failure at journal-write/);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
    await finish(lane);
  });
});
