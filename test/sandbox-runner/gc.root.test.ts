// `gc` through the CLI: it lists (--dry-run) and removes the orphans under its prefix, keeps what a
// sandbox owns, and never touches a namespace with another prefix.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { idOf, ownerTag } from "../support/state-owner.js";
import { describeSandbox, netnsNames, nothingHeld, runcStatus, SandboxEnv, show } from "./support/sandbox.js";

interface GcReport {
  dryRun: boolean;
  netns: string[];
  allocations: string[];
  containers: string[];
  bundles: string[];
  names: string[];
  failed: string[];
}

describeSandbox("sandbox-runner gc (root, through the CLI)", () => {
  const env = new SandboxEnv(6);
  const lane = env.lane();
  // A near miss: shares all but the prefix's last character, so a sloppy prefix match would take it.
  const foreign = `${lane.prefix.slice(0, -1)}other`;
  afterAll(() => {
    if (netnsNames().includes(foreign)) execFileSync("ip", ["netns", "delete", foreign]);
    expect(env.teardown()).toEqual([]);
  });

  it("lists orphans with --dry-run, removes them, keeps the live sandbox and the foreign netns", async () => {
    const pod = env.podConfig({ metadata: { name: "live", namespace: "default" } });
    const run = await lane.cli(["--json", "run", pod]);
    expect(run.code, show(run)).toBe(0);
    const live = JSON.parse(run.stdout) as { id: string; ip: string };

    // Orphans: a netns, a bundle, a name reservation and an IP allocation no sandbox owns, named
    // with an id of this state dir (its owner tag).
    const tag = ownerTag(lane.stateDir);
    const orphanNetns = `${lane.prefix}${idOf(tag)}`;
    execFileSync("ip", ["netns", "add", orphanNetns]);
    execFileSync("ip", ["netns", "add", foreign]);
    const orphanId = idOf(tag);
    mkdirSync(path.join(lane.stateDir, "bundles", orphanId));
    writeFileSync(path.join(lane.stateDir, "bundles", orphanId, "config.json"), "{}");
    const key = `ghost_default__0`;
    const nameFile = path.join(
      lane.stateDir,
      "names",
      `${createHash("sha256").update(key).digest("hex").slice(0, 40)}.json`,
    );
    writeFileSync(nameFile, JSON.stringify({ key, id: orphanId }));
    const orphanIp = `${env.subnetBase}.250`;
    const ipFile = path.join(env.cniDataDir, "errdefer", orphanIp);
    // host-local's own format: the container id, CRLF, the interface (DEL matches both).
    writeFileSync(ipFile, `${orphanId}\r\neth0`);

    const dry = await lane.cli(["--json", "gc", "--dry-run"]);
    expect(dry.code, show(dry)).toBe(0);
    const planned = JSON.parse(dry.stdout) as GcReport;
    expect(planned).toMatchObject({
      dryRun: true,
      netns: [`/var/run/netns/${orphanNetns}`],
      allocations: [`${orphanIp} (${orphanId})`],
      containers: [],
      bundles: [orphanId],
      names: [key],
      failed: [],
    });
    // Nothing removed yet.
    expect(netnsNames()).toEqual(expect.arrayContaining([orphanNetns, foreign, lane.netnsName(live.id)]));
    for (const f of [path.join(lane.stateDir, "bundles", orphanId), nameFile, ipFile])
      expect(existsSync(f), f).toBe(true);

    const gc = await lane.cli(["--json", "gc"]);
    expect(gc.code, show(gc)).toBe(0);
    expect(JSON.parse(gc.stdout)).toEqual({ ...planned, dryRun: false });
    const names = netnsNames();
    expect(names).not.toContain(orphanNetns);
    expect(names).toContain(foreign);
    expect(names).toContain(lane.netnsName(live.id));
    for (const f of [path.join(lane.stateDir, "bundles", orphanId), nameFile, ipFile])
      expect(existsSync(f), f).toBe(false);

    // The live sandbox is untouched.
    expect(runcStatus(lane.stateDir, live.id)).toBe("running");
    expect(await lane.ls()).toMatchObject([{ id: live.id, state: "READY", ip: live.ip }]);

    // A second gc finds nothing.
    const again = await lane.cli(["--json", "gc"]);
    expect(again.code, show(again)).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      dryRun: false,
      netns: [],
      allocations: [],
      containers: [],
      bundles: [],
      names: [],
      failed: [],
    });

    const rm = await lane.cli(["rm", live.id]);
    expect(rm.code, show(rm)).toBe(0);
    expect(lane.held()).toEqual(nothingHeld);
    expect(netnsNames()).toContain(foreign);
  });
});
