// The CLI as a crictl user drives it (issue 12), on real sandboxes: `runp` prints the id alone,
// `pods -o json` / `inspectp -o json` print CRI's messages so that jq scripts written for crictl
// read them, YAML pod configs, several ids per stopp / rmp and `rmp -a`, and `--debug`.
import { afterAll, expect, it } from "vitest";
import { cniBinDir, describeSandbox, nothingHeld, SandboxEnv, show } from "./support/sandbox.js";

interface PodItem {
  id: string;
  metadata: { name: string; namespace: string; uid: string; attempt: number };
  state: string;
  createdAt: string;
  labels: Record<string, string>;
}

describeSandbox("sandbox-runner as crictl (root, through the CLI)", () => {
  const env = new SandboxEnv(18);
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  it.concurrent(
    "runp prints the id alone; pods and inspectp -o json are crictl's shapes; YAML configs run",
    async () => {
      const lane = env.lane();
      // YAML, as crictl reads it: snake_case CRI names, by the .yaml extension.
      const yamlPod = env.podConfig(
        "metadata:\n  name: web\n  namespace: default\n  uid: u-1\nlabels:\n  app: web\n" +
          "linux:\n  security_context:\n    namespace_options:\n      network: POD\n",
        "web",
        ".yaml",
      );
      const run = await lane.cli(["runp", yamlPod]);
      expect(run.code, show(run)).toBe(0);
      expect(run.stdout).toMatch(/^[0-9a-f]{32}\n$/);
      const id = run.stdout.trim();

      // -o json on run: the new sandbox's status, as inspectp prints it.
      const db = await lane.cli([
        "run",
        "-o",
        "json",
        env.podConfig({ metadata: { name: "db", namespace: "team-a" } }),
      ]);
      expect(db.code, show(db)).toBe(0);
      const dbStatus = (JSON.parse(db.stdout) as { status: { id: string; state: string; network: { ip: string } } })
        .status;
      expect(dbStatus.state).toBe("SANDBOX_READY");
      expect(dbStatus.network.ip.startsWith(`${env.subnetBase}.`)).toBe(true);

      // `crictl pods -o json | jq -r '.items[] | select(.state == "SANDBOX_READY") | .id'`
      // (Without -q, which lane.cli passes unless `progress`: with it, pods prints the ids alone.)
      const pods = await lane.cli(["pods", "-o", "json"], { progress: true });
      expect(pods.code, show(pods)).toBe(0);
      const items = (JSON.parse(pods.stdout) as { items: PodItem[] }).items;
      expect(items.filter((p) => p.state === "SANDBOX_READY").map((p) => p.id)).toEqual([id, dbStatus.id]);
      const web = items[0]!;
      expect(web).toMatchObject({ metadata: { name: "web", namespace: "default", uid: "u-1", attempt: 0 } });
      expect(web.labels).toEqual({ app: "web" });
      const summary = (await lane.ls()).find((s) => s.id === id)!;
      expect(web.createdAt).toBe(`${BigInt(Date.parse(summary.createdAt)) * 1_000_000n}`);

      // `crictl inspectp -o json ID | jq -r .status.network.ip`, and the netns in info.
      const inspect = await lane.cli(["inspectp", "-o", "json", id]);
      expect(inspect.code, show(inspect)).toBe(0);
      const shown = JSON.parse(inspect.stdout) as { status: { network: { ip: string } }; info: { netnsPath: string } };
      expect(shown.status.network.ip).toBe(summary.ip);
      expect(shown.info.netnsPath).toBe(`/var/run/netns/${lane.netnsName(id)}`);

      // ls -q: the ids alone, as crictl pods -q.
      const q = await lane.cli(["ls"]);
      expect(q.stdout).toBe(`${id}\n${dbStatus.id}\n`);

      const rm = await lane.cli(["rmp", "-a"]);
      expect(rm.code, show(rm)).toBe(0);
      expect(lane.held()).toEqual(nothingHeld);
    },
  );

  it.concurrent("stopp and rmp take several ids; rm -a removes the rest; nothing is left", async () => {
    const lane = env.lane();
    const ids: string[] = [];
    for (const name of ["a", "b", "c"]) {
      const r = await lane.cli(["run", env.podConfig({ metadata: { name, namespace: "default" } })]);
      expect(r.code, show(r)).toBe(0);
      ids.push(r.stdout.trim());
    }
    const stop = await lane.cli(["stopp", ids[0]!, ids[1]!.slice(0, 10)]);
    expect(stop.code, show(stop)).toBe(0);
    expect((await lane.ls()).map((s) => s.state)).toEqual(["NOTREADY", "NOTREADY", "READY"]);
    expect(lane.held().netns).toEqual([lane.netnsName(ids[2]!)]);

    const rm = await lane.cli(["--json", "rmp", ids[0]!, ids[1]!]);
    expect(rm.code, show(rm)).toBe(0);
    expect(rm.stdout.trimEnd().split("\n")).toHaveLength(2);
    expect((await lane.ls()).map((s) => s.id)).toEqual([ids[2]]);

    const all = await lane.cli(["rm", "--all"]);
    expect(all.code, show(all)).toBe(0);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
  });

  it.concurrent("--debug: every command started, and how and in how long it ended, on stderr", async () => {
    const lane = env.lane();
    const pod = env.podConfig({ metadata: { name: "dbg", namespace: "default" } });
    const r = await lane.cli(["--debug", "run", pod]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{32}\n$/);
    // The plugins and runc, each started and ended (the trace NODE_DEBUG=errdefer prints).
    expect(r.stderr).toContain(`sandbox-runner: debug: run ${cniBinDir}/bridge\n`);
    expect(r.stderr).toMatch(/^sandbox-runner: debug: run \S*\/runc .* run --detach /m);
    expect(r.stderr).toMatch(/^sandbox-runner: debug: \S+: exit 0 in \d+ ms$/m);
    expect(r.stderr).toMatch(/^sandbox-runner: debug: run started$/m);
    expect(r.stderr).toMatch(/^sandbox-runner: debug: run ended in \d+ ms$/m);
    const quiet = await lane.cli(["rm", "-a"]);
    expect(quiet.code, show(quiet)).toBe(0);
    expect(quiet.stderr, "no trace without --debug").not.toContain("debug:");
    expect(lane.held()).toEqual(nothingHeld);
  });
});
