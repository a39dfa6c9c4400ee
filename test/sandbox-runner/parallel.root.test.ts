// 20 sandboxes at once through the library API, in-process: distinct IPs, then nothing left.
import { afterAll, expect, it } from "vitest";
import { parsePodConfig } from "../../examples/sandbox-runner/pod-config.js";
import { Runner } from "../../examples/sandbox-runner/runner/index.js";
import {
  describeSandbox,
  linksWithMaster,
  netnsAddresses,
  nothingHeld,
  runcStatus,
  SandboxEnv,
} from "./support/sandbox.js";

const COUNT = 20;

describeSandbox("sandbox-runner: 20 sandboxes in parallel (root, library API)", () => {
  const env = new SandboxEnv(4);
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  it(`runs ${COUNT} sandboxes concurrently with distinct IPs, and removes them all`, async () => {
    const lane = env.lane();
    const runner = await Runner.open({
      stateDir: lane.stateDir,
      prefix: lane.prefix,
      bridge: env.bridge,
      subnet: env.subnet,
      cniDataDir: env.cniDataDir,
    });
    try {
      const configs = Array.from({ length: COUNT }, (_, i) =>
        parsePodConfig({ metadata: { name: `pod-${i}`, namespace: "parallel", uid: `u${i}` } })._unsafeUnwrap(),
      );
      const results = await Promise.all(configs.map((c) => runner.run(c)));
      const records = results.map((r) => r._unsafeUnwrap());
      const ips = records.map((r) => r.ip);
      expect(new Set(ips).size).toBe(COUNT);
      for (const r of records) {
        expect(r.state).toBe("READY");
        expect(r.ip?.startsWith(`${env.subnetBase}.`)).toBe(true);
        expect(runcStatus(lane.stateDir, r.id)).toBe("running");
      }
      // Spot-check one address inside its netns.
      expect(netnsAddresses(lane.netnsName(records[COUNT - 1]!.id))).toContain(` inet ${records[COUNT - 1]!.ip}/24 `);
      expect(lane.netns()).toHaveLength(COUNT);
      expect(linksWithMaster(env.bridge)).toHaveLength(COUNT);
      expect((await runner.list()).map((r) => r.state)).toEqual(Array<string>(COUNT).fill("READY"));

      const removed = await Promise.all(records.map((r) => runner.remove(r.id)));
      for (const r of removed) expect(r.isOk(), r.isErr() ? r.error.message : "").toBe(true);
      expect(await runner.list()).toEqual([]);
    } finally {
      await runner.close();
    }
    expect(lane.held()).toEqual(nothingHeld);
    expect(linksWithMaster(env.bridge)).toEqual([]);
  });
});
