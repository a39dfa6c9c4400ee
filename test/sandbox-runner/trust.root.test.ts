// What the runner runs as root must be root's (issue 15, item 3), through the CLI: a CNI bin dir
// or a plugin others can write, and a runc on PATH in a dir others can write, are refused and
// never run (the run fails naming the path; what it made is kept NOTREADY until rm, once the
// host is put right, removes it); a symlinked subdir of the state dir is refused.
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { cniBinDir, describeSandbox, nothingHeld, SandboxEnv, show, type Lane } from "./support/sandbox.js";

describeSandbox("sandbox-runner trusts only root's plugins and tools (root, through the CLI)", () => {
  const env = new SandboxEnv(12);
  const pod = env.podConfig({ metadata: { name: "web", namespace: "default" } });
  const canary = path.join(env.work, "canary");
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  /** A bin dir of symlinks to the real plugins; `loopback` a canary script when `fakeLoopback`. */
  function binDir(name: string, mode: number, fakeLoopback = false): string {
    const dir = path.join(env.work, name);
    mkdirSync(dir);
    for (const p of ["bridge", "host-local", ...(fakeLoopback ? [] : ["loopback"])])
      symlinkSync(path.join(cniBinDir, p), path.join(dir, p));
    if (fakeLoopback) {
      writeFileSync(path.join(dir, "loopback"), `#!/bin/sh\ntouch ${canary}-plugin\n`);
      chmodSync(path.join(dir, "loopback"), 0o775);
    }
    chmodSync(dir, mode);
    return dir;
  }

  /** A failed run leaves a NOTREADY sandbox; once the host is put right, rm removes it all. */
  async function rmAll(lane: Lane, args: string[] = []): Promise<void> {
    for (const r of await lane.ls()) {
      const rm = await lane.cli([...args, "rm", r.id]);
      expect(rm.code, show(rm)).toBe(0);
    }
    expect(lane.held()).toEqual(nothingHeld);
  }

  it("a world-writable CNI bin dir: no plugin runs, the error names it", async () => {
    const lane = env.lane();
    const dir = binDir("bin-open", 0o777);
    const r = await lane.cli(["--cni-bin-dir", dir, "run", pod]);
    // Found when the conflist's plugins are looked up, before anything is created: a config error.
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(`CNI bin dir ${dir} is group- or world-writable (mode 0777)`);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
    chmodSync(dir, 0o755);
    await rmAll(lane, ["--cni-bin-dir", dir]);
  });

  it("a group-writable plugin is never run, the error names it", async () => {
    const lane = env.lane();
    const dir = binDir("bin-plugin", 0o755, true);
    const r = await lane.cli(["--cni-bin-dir", dir, "run", pod]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(`CNI plugin ${path.join(dir, "loopback")} is group- or world-writable (mode 0775)`);
    expect(existsSync(`${canary}-plugin`), "the untrusted plugin ran").toBe(false);
    expect(await lane.ls()).toEqual([]);
    rmSync(path.join(dir, "loopback"));
    symlinkSync(path.join(cniBinDir, "loopback"), path.join(dir, "loopback"));
    await rmAll(lane, ["--cni-bin-dir", dir]);
  });

  it("a runc found on PATH in a world-writable dir is never run, the error names it", async () => {
    const lane = env.lane();
    const planted = path.join(env.work, "path-open");
    mkdirSync(planted);
    writeFileSync(path.join(planted, "runc"), `#!/bin/sh\ntouch ${canary}-runc\n`, { mode: 0o755 });
    chmodSync(planted, 0o777);
    const r = await lane.cli(["run", pod], { env: { PATH: `${planted}:${process.env.PATH ?? ""}` } });
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain(
      `tool runc ${path.join(planted, "runc")}: its directory ${planted} is group- or world-writable`,
    );
    expect(existsSync(`${canary}-runc`), "the planted runc ran").toBe(false);
    await rmAll(lane);
  });

  it("a state dir whose subdir is a symlink is refused, naming it; nothing is written through it", async () => {
    const lane = env.lane();
    const elsewhere = path.join(env.work, "elsewhere");
    mkdirSync(elsewhere, { mode: 0o700 });
    mkdirSync(lane.stateDir, { mode: 0o700 });
    symlinkSync(elsewhere, path.join(lane.stateDir, "bundles"));
    // A command that takes the state dir (ls and inspect only read records, without the lock).
    const r = await lane.cli(["gc", "--dry-run"]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain(`directory ${path.join(lane.stateDir, "bundles")} is a symlink`);
    expect(existsSync(path.join(lane.stateDir, "owner"))).toBe(false);
    rmSync(path.join(lane.stateDir, "bundles"));
  });
});
