// Ownership through the CLI (issue 15, items 1 and 2): two runners with their own state dirs, on one
// netns dir, one bridge and subnet, one host-local data dir and one prefix, each keep their hands
// off the other's sandboxes. Their sandboxes get distinct IPs; gc (and its dry run) of either
// touches only its own orphans; a journal of one replayed by the other's recover is refused; a
// namespace `<prefix>anything` nobody made survives both.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import {
  describeSandbox,
  netnsNames,
  nothingHeld,
  runcStatus,
  SandboxEnv,
  show,
  type Lane,
} from "./support/sandbox.js";

interface Ran {
  id: string;
  ip: string;
  netnsPath: string;
}

const nothing = { netns: [], allocations: [], containers: [], bundles: [], names: [], failed: [] };

describeSandbox("sandbox-runner: two state dirs on one netns dir, bridge and prefix (root, through the CLI)", () => {
  const env = new SandboxEnv(11);
  const a = env.lane();
  const b = env.lane(a.prefix);
  const foreign = `${a.prefix}anything`;
  afterAll(() => {
    if (netnsNames().includes(foreign)) execFileSync("ip", ["netns", "delete", foreign]);
    expect(env.teardown()).toEqual([]);
  });

  async function run(lane: Lane, name: string): Promise<Ran> {
    const r = await lane.cli(["--json", "run", env.podConfig({ metadata: { name, namespace: "default" } })]);
    expect(r.code, show(r)).toBe(0);
    return JSON.parse(r.stdout) as Ran;
  }

  async function expectIntact(lane: Lane, sandbox: Ran): Promise<void> {
    expect(netnsNames()).toContain(path.basename(sandbox.netnsPath));
    expect(lane.ipFiles().map((f) => path.basename(f))).toEqual([sandbox.ip]);
    expect(runcStatus(lane.stateDir, sandbox.id)).toBe("running");
    expect(await lane.ls()).toMatchObject([{ id: sandbox.id, state: "READY", ip: sandbox.ip }]);
  }

  it("distinct IPs; gc of each leaves the other's READY sandbox and a foreign <prefix>anything alone", async () => {
    const ra = await run(a, "web-a");
    const rb = await run(b, "web-b");
    expect(ra.ip).not.toBe(rb.ip);
    execFileSync("ip", ["netns", "add", foreign]);

    for (const lane of [a, b]) {
      const dry = await lane.cli(["--json", "gc", "--dry-run"]);
      expect(dry.code, show(dry)).toBe(0);
      expect(JSON.parse(dry.stdout)).toEqual({ dryRun: true, ...nothing });
      const gc = await lane.cli(["--json", "gc"]);
      expect(gc.code, show(gc)).toBe(0);
      expect(JSON.parse(gc.stdout)).toEqual({ dryRun: false, ...nothing });
      await expectIntact(a, ra);
      await expectIntact(b, rb);
      expect(netnsNames()).toContain(foreign);
    }

    for (const [lane, r] of [
      [a, ra],
      [b, rb],
    ] as const) {
      const rm = await lane.cli(["rm", r.id]);
      expect(rm.code, show(rm)).toBe(0);
      expect(lane.held()).toEqual(nothingHeld);
    }
    expect(netnsNames()).toContain(foreign);
  });

  it("recover refuses a journal naming the other state dir's sandbox, and releases nothing of it", async () => {
    const killed = await b.cli([
      "run",
      "--failpoint",
      "start-container=crash",
      env.podConfig({ metadata: { name: "cut", namespace: "default" } }),
    ]);
    expect(killed.signal, show(killed)).toBe("SIGKILL");
    const left = b.held();
    expect(left.netns.length).toBe(1);

    // b's journal, replayed by a's recover (its writer is dead, so a would roll it back).
    const [from, to] = [b, a].map((l) => path.join(l.stateDir, "journal"));
    mkdirSync(to!, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(from!).filter((n) => n.endsWith(".jsonl")))
      copyFileSync(path.join(from!, f), path.join(to!, f));
    const refused = await a.cli(["--json", "recover"]);
    expect(refused.code, show(refused)).toBe(1);
    expect(refused.stdout + refused.stderr).toContain("not this state dir's");
    expect(b.held()).toEqual(left);
    expect(existsSync(path.join(a.stateDir, "bundles"))).toBe(true);

    const own = await b.cli(["--json", "recover"]);
    expect(own.code, show(own)).toBe(0);
    expect(b.held()).toEqual(nothingHeld);
  });
});
