// The sandbox runner's lifecycle through its CLI, as a user runs it: run, ls, inspect, stop, rm,
// with pod and host networking, on the real kernel, CNI plugins and runc.
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeSandbox, netnsAddresses, nothingHeld, runcStatus, SandboxEnv, show } from "./support/sandbox.js";

describeSandbox("sandbox-runner lifecycle (root, through the CLI)", () => {
  const env = new SandboxEnv(0);
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  it.concurrent("run, ls, inspect, stop and rm a pod-network sandbox; stop/rm of an unknown id succeed", async () => {
    const lane = env.lane();
    const webConfig = env.podConfig({
      metadata: { name: "web", namespace: "default", uid: "u-1", attempt: 0 },
      hostname: "web-host",
      labels: { app: "web" },
      unknownField: 1,
    });
    const dbConfig = env.podConfig({ metadata: { name: "db", namespace: "team-a" } });
    // The two runs share the state dir (the second waits for the lock): text and --json output.
    const [text, json] = await Promise.all([lane.cli(["run", webConfig]), lane.cli(["--json", "run", dbConfig])]);
    expect(text.code, show(text)).toBe(0);
    expect(json.code, show(json)).toBe(0);

    // Text: the id alone (as crictl runp), so that `id=$(... run pod.json)` works.
    expect(text.stdout).toMatch(/^[0-9a-f]{32}\n$/);
    const webId = text.stdout.trim();
    const webIp = (await lane.inspect(webId)).ip;
    expect(webIp?.startsWith(`${env.subnetBase}.`)).toBe(true);

    // --json: nothing but one JSON object on stdout.
    const db = JSON.parse(json.stdout) as { id: string; ip: string; netnsPath: string; state: string };
    expect(db.state).toBe("READY");
    expect(db.ip.startsWith(`${env.subnetBase}.`)).toBe(true);
    expect(db.ip).not.toBe(webIp);

    const listed = await lane.ls();
    expect(listed).toHaveLength(2);
    const web = listed.find((s) => s.id === webId)!;
    expect(web).toMatchObject({
      name: "web",
      namespace: "default",
      state: "READY",
      netnsPath: `/var/run/netns/${lane.prefix}${webId}`,
      ip: webIp,
      hostNetwork: false,
    });
    expect(Number.isNaN(Date.parse(web.createdAt))).toBe(false);
    expect(web.ip).not.toContain("/");
    expect(listed.find((s) => s.id === db.id)).toMatchObject({
      name: "db",
      namespace: "team-a",
      state: "READY",
      ip: db.ip,
    });

    // inspect: the resources held and the step log.
    const details = await lane.inspect(webId.slice(0, 8));
    expect(details.id).toBe(webId);
    expect(details.resources.map((r) => r.step)).toEqual([
      "reserve-name",
      "create-record",
      "create-netns",
      "cni-add",
      "create-bundle",
      "start-container",
    ]);
    // The log is in the order the steps ended: cni-add runs beside create-bundle + start-container.
    const log = details.steps.map((s) => [s.step, s.status]);
    expect(log.slice(0, 3)).toEqual(["reserve-name", "create-record", "create-netns"].map((s) => [s, "ok"]));
    expect(log.slice(3).sort()).toEqual(["cni-add", "create-bundle", "start-container"].map((s) => [s, "ok"]));
    const ended = log.map(([s]) => s);
    expect(ended.indexOf("create-bundle")).toBeLessThan(ended.indexOf("start-container"));

    // The address inside the netns, the IP file, the running pause container.
    expect(netnsAddresses(lane.netnsName(webId))).toContain(` inet ${webIp}/24 `);
    expect(existsSync(path.join(env.cniDataDir, "errdefer", webIp!))).toBe(true);
    expect(runcStatus(lane.stateDir, webId)).toBe("running");
    expect(runcStatus(lane.stateDir, db.id)).toBe("running");

    // stop: NOTREADY, the container stopped, the netns gone, the IP freed; still listed.
    const stop = await lane.cli(["stop", webId]);
    expect(stop.code, show(stop)).toBe(0);
    const afterStop = (await lane.ls()).find((s) => s.id === webId);
    expect(afterStop).toMatchObject({ state: "NOTREADY", ip: null });
    expect(lane.netns()).not.toContain(lane.netnsName(webId));
    expect(existsSync(path.join(env.cniDataDir, "errdefer", webIp!))).toBe(false);
    expect(runcStatus(lane.stateDir, webId)).toBeUndefined();
    // A second stop is a no-op.
    expect((await lane.cli(["stop", webId])).code).toBe(0);

    // rm: gone from ls, and with it everything (rm of a READY sandbox stops it first).
    const [rmWeb, rmDb] = await Promise.all([lane.cli(["rm", webId]), lane.cli(["rm", db.id])]);
    expect(rmWeb.code, show(rmWeb)).toBe(0);
    expect(rmDb.code, show(rmDb)).toBe(0);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);

    // CRI: stopping or removing what does not exist is success.
    const unknown = "0123456789abcdef0123456789abcdef";
    const [stopUnknown, rmUnknown] = await Promise.all([
      lane.cli(["stop", unknown]),
      lane.cli(["--json", "rm", unknown]),
    ]);
    expect(stopUnknown.code, show(stopUnknown)).toBe(0);
    expect(rmUnknown.code, show(rmUnknown)).toBe(0);
    expect(JSON.parse(rmUnknown.stdout)).toEqual({ id: unknown, ok: true });
  });

  it.concurrent(
    "runs host-network pods (NODE and 2): no netns, no IP, the container runs, rm leaves nothing",
    async () => {
      const lane = env.lane();
      const node = env.podConfig({
        metadata: { name: "host-a", namespace: "default" },
        linux: { security_context: { namespace_options: { network: "NODE" } } },
      });
      const two = env.podConfig({
        metadata: { name: "host-b", namespace: "default" },
        linux: { security_context: { namespace_options: { network: 2 } } },
      });
      const runs = await Promise.all([lane.cli(["--json", "run", node]), lane.cli(["--json", "run", two])]);
      for (const r of runs) expect(r.code, show(r)).toBe(0);
      const sandboxes = runs.map(
        (r) =>
          JSON.parse(r.stdout) as {
            id: string;
            netnsPath: string | null;
            ip: string | null;
            hostNetwork: boolean;
            state: string;
          },
      );
      for (const s of sandboxes) {
        expect(s).toMatchObject({ state: "READY", netnsPath: null, ip: null, hostNetwork: true });
        expect(runcStatus(lane.stateDir, s.id)).toBe("running");
      }
      expect(lane.netns()).toEqual([]);
      expect(lane.held().ipFiles).toEqual([]);
      const listed = await lane.ls();
      expect(listed.map((s) => [s.name, s.state, s.netnsPath, s.ip]).sort()).toEqual([
        ["host-a", "READY", null, null],
        ["host-b", "READY", null, null],
      ]);
      const removed = await Promise.all(sandboxes.map((s) => lane.cli(["rm", s.id])));
      for (const r of removed) expect(r.code, show(r)).toBe(0);
      expect(await lane.ls()).toEqual([]);
      expect(lane.held()).toEqual(nothingHeld);
    },
  );
});
