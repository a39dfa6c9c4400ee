// What a helper killed part-way leaves, through the CLI: the release must finish the job, or a
// sandbox stays NOTREADY for ever and its cgroups leak. Found by the long soak (runner and recover
// SIGKILLed at random): a runc create killed between making the container's cgroups and writing its
// state.json, and a netns file left without its namespace mounted on it (an `ip netns del` killed
// between its umount and its unlink), on which every CNI DEL failed with "unknown FS magic".
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  cgroupsWith,
  describeSandbox,
  linksWithMaster,
  mountsWith,
  nothingHeld,
  SandboxEnv,
  show,
} from "./support/sandbox.js";

/**
 * A fake `runc`, first on the runner's PATH: `create` (or `run`) makes what runc 1.1 has made when it is killed
 * between creating the container's cgroups and writing its state.json (a state dir holding only
 * exec.fifo, and the cgroups), then SIGKILLs itself; any other subcommand is the real runc's.
 */
const fakeRunc = (realRunc: string) => `
const fs = require("node:fs");
const path = require("node:path");
const args = process.argv.slice(2);
if (!args.includes("create") && !args.includes("run")) {
  const r = require("node:child_process").spawnSync(${JSON.stringify(realRunc)}, args, { stdio: "inherit" });
  process.exit(r.status ?? 1);
}
const root = args[args.indexOf("--root") + 1];
const bundle = args[args.indexOf("--bundle") + 1];
const id = args[args.length - 1];
const cgroupsPath = JSON.parse(fs.readFileSync(path.join(bundle, "config.json"), "utf8")).linux.cgroupsPath;
fs.mkdirSync(path.join(root, id), { recursive: true });
fs.writeFileSync(path.join(root, id, "exec.fifo"), "");
const top = "/sys/fs/cgroup";
const hierarchies = fs.existsSync(top + "/cgroup.controllers") ? [top] : fs.readdirSync(top).map((h) => path.join(top, h));
for (const h of hierarchies) {
  try {
    fs.mkdirSync(path.join(h, cgroupsPath));
  } catch {}
}
process.kill(process.pid, "SIGKILL");
`;

describeSandbox("sandbox-runner releases what a helper killed part-way left (root, through the CLI)", () => {
  const env = new SandboxEnv(10);
  const pod = env.podConfig({ metadata: { name: "web", namespace: "default" } });
  /** A dir holding only the fake runc, put first on the runner's PATH. */
  const runcBin = path.join(env.work, "runc-bin");
  beforeAll(() => {
    mkdirSync(runcBin, { recursive: true });
    const realRunc = execFileSync("sh", ["-c", "command -v runc"], { encoding: "utf8" }).trim();
    writeFileSync(path.join(runcBin, "runc"), `#!${process.execPath}\n${fakeRunc(realRunc)}`);
    chmodSync(path.join(runcBin, "runc"), 0o755);
  });
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  it("runc create killed after making the cgroups: the rollback removes them and runc's state dir", async () => {
    const lane = env.lane();
    const r = await lane.cli(["run", pod], { progress: true, env: { PATH: `${runcBin}:${process.env.PATH ?? ""}` } });
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/✘ start-container .*runc was killed by SIGKILL/);
    expect(r.stderr).toMatch(/↩ stop-container/);
    expect(await lane.ls()).toEqual([]);
    expect(readdirSync(path.join(lane.stateDir, "runc"))).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
    expect(cgroupsWith(lane.prefix)).toEqual([]);
    expect(linksWithMaster(env.bridge)).toEqual([]);
  }, 60_000);

  it("a netns file left without its namespace mounted: rm still runs the CNI DEL and removes the file", async () => {
    const lane = env.lane();
    const ran = await lane.cli(["--json", "run", pod]);
    expect(ran.code, show(ran)).toBe(0);
    const { id } = JSON.parse(ran.stdout) as { id: string };
    // Half of an `ip netns del`: the namespace unmounted, the file not unlinked.
    const file = path.join("/var/run/netns", lane.netnsName(id));
    execFileSync("umount", [file]);
    expect([existsSync(file), mountsWith(file)]).toEqual([true, []]);

    const rm = await lane.cli(["rm", id], { progress: true });
    expect(rm.code, show(rm)).toBe(0);
    expect(rm.stderr).toMatch(/↩ cni-del/);
    expect(existsSync(file)).toBe(false);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
    expect(linksWithMaster(env.bridge)).toEqual([]);
  }, 60_000);
});
