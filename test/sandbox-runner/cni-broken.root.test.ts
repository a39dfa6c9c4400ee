// Broken CNI configurations in a conf dir of the test's own, through the CLI: a plugin or IPAM
// type with no binary is a config error before anything is created (issue 15, item 7); a plugin
// that fails makes the run fail and nothing is left, including what a working plugin earlier in
// the chain had allocated; `rm --force` finishes a sandbox whose CNI DEL can never succeed.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import {
  cniBinDir,
  describeSandbox,
  ipFiles,
  linksWithMaster,
  nothingHeld,
  SandboxEnv,
  show,
  type Lane,
} from "./support/sandbox.js";

describeSandbox("sandbox-runner with broken CNI configs (root, through the CLI)", () => {
  const env = new SandboxEnv(3);
  const pod = env.podConfig({ metadata: { name: "web", namespace: "default" } });
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  function confDir(lane: Lane, plugins: unknown[]): string {
    const dir = path.join(env.work, `net.d-${path.basename(lane.stateDir)}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, "10-broken.conflist"),
      JSON.stringify({ cniVersion: "1.0.0", name: "broken", plugins }),
    );
    return dir;
  }

  // Sequential: the second checks that no veth is left on the file's bridge.
  const bridgeWith = (lane: Lane, ipamType: string) => ({
    type: "bridge",
    bridge: env.bridge,
    isGateway: false,
    ipMasq: false,
    ipam: { type: ipamType, ranges: [[{ subnet: env.subnet }]], dataDir: env.cniDataDir },
  });

  it("a plugin type, or an IPAM type, with no binary: exit 2 naming the field, nothing created", async () => {
    const cases: [(lane: Lane) => unknown[], string, string][] = [
      [() => [{ type: "errdefer-no-such-plugin" }], "plugins[0].type", "errdefer-no-such-plugin"],
      [(lane) => [bridgeWith(lane, "host-locl")], "plugins[0].ipam.type", "host-locl"],
    ];
    for (const [plugins, field, type] of cases) {
      const lane = env.lane();
      const r = await lane.cli(["--cni-conf-dir", confDir(lane, plugins(lane)), "run", pod], { progress: true });
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain(`${field}: no plugin "${type}" in the CNI bin dir ${cniBinDir}`);
      expect(r.stderr).not.toMatch(/cni-add/);
      expect(await lane.ls()).toEqual([]);
      expect(lane.held()).toEqual(nothingHeld);
    }
  });

  it("rm --force: a sandbox whose CNI DEL can never succeed is removed, what DEL held reported (exit 3)", async () => {
    const lane = env.lane();
    const bin = path.join(env.work, "cni-bin");
    mkdirSync(bin, { mode: 0o700 });
    for (const p of ["bridge", "host-local", "loopback"]) copyFileSync(path.join(cniBinDir, p), path.join(bin, p));
    const conf = confDir(lane, [bridgeWith(lane, "host-local")]);
    const run = await lane.cli(["--json", "--cni-bin-dir", bin, "--cni-conf-dir", conf, "run", pod]);
    expect(run.code, show(run)).toBe(0);
    const { id } = JSON.parse(run.stdout) as { id: string };
    rmSync(path.join(bin, "host-local")); // the IPAM plugin is gone: DEL fails for ever
    const rm = await lane.cli(["--cni-bin-dir", bin, "--cni-conf-dir", conf, "rm", id]);
    expect(rm.code, show(rm)).toBe(1);
    expect((await lane.ls()).map((r) => [r.id, r.state])).toEqual([[id, "NOTREADY"]]);

    const forced = await lane.cli(["--cni-bin-dir", bin, "--cni-conf-dir", conf, "rm", "--force", id]);
    expect(forced.code, show(forced)).toBe(3);
    expect(forced.stderr).toContain(`removed with --force, but not released (left on the host): cni-del of ${id}`);
    expect(await lane.ls()).toEqual([]);
    // The IP host-local allocated is what was not released: reported, and removed here by hand.
    const left = ipFiles(env.cniDataDir, (c) => c === id);
    expect(left.length).toBe(1);
    rmSync(left[0]!);
    expect(lane.held()).toEqual(nothingHeld);
    expect(linksWithMaster(env.bridge)).toEqual([]);
  });

  it("a failing plugin chained after a working bridge: ADD fails, the bridge's veth and IP are released", async () => {
    const lane = env.lane();
    // tuning exists, and fails ADD: no such sysctl.
    const failing = { type: "tuning", sysctl: { "net.ipv4.conf.eth0.errdefer_no_such_sysctl": "1" } };
    const r = await lane.cli(["--cni-conf-dir", confDir(lane, [bridgeWith(lane, "host-local"), failing]), "run", pod], {
      progress: true,
    });
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain("errdefer_no_such_sysctl");
    // The rollback ran the bridge's DEL.
    expect(r.stderr).toMatch(/↩ cni-del/);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
    expect(linksWithMaster(env.bridge)).toEqual([]);
  });
});
