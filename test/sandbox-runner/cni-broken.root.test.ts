// Broken CNI configurations in a conf dir of the test's own, through the CLI: the run fails and
// nothing is left, including what a working plugin earlier in the chain had allocated.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeSandbox, linksWithMaster, nothingHeld, SandboxEnv, show, type Lane } from "./support/sandbox.js";

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
  it("a plugin type that does not exist: exit 1, nothing left", async () => {
    const lane = env.lane();
    const r = await lane.cli(["--cni-conf-dir", confDir(lane, [{ type: "errdefer-no-such-plugin" }]), "run", pod], {
      progress: true,
    });
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain("errdefer-no-such-plugin");
    expect(r.stderr).toMatch(/✘ cni-add/);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
  });

  it("a missing plugin chained after a working bridge: ADD fails, the bridge's veth and IP are released", async () => {
    const lane = env.lane();
    const bridge = {
      type: "bridge",
      bridge: env.bridge,
      isGateway: false,
      ipMasq: false,
      ipam: {
        type: "host-local",
        ranges: [[{ subnet: env.subnet }]],
        dataDir: env.cniDataDir,
      },
    };
    const r = await lane.cli(
      ["--cni-conf-dir", confDir(lane, [bridge, { type: "errdefer-no-such-plugin" }]), "run", pod],
      { progress: true },
    );
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain("errdefer-no-such-plugin");
    // The rollback ran the bridge's DEL.
    expect(r.stderr).toMatch(/↩ cni-del/);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
    expect(linksWithMaster(env.bridge)).toEqual([]);
  });
});
