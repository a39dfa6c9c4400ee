// A journalled CNI description may not choose where host-local works (issue 15, item 4): a journal
// line whose ipam.dataDir was changed is refused by recover (the plugin never runs: the dir it
// names is never created, the real allocation stays), and the same line put right is released.
// A stored plugin chain that is not the configured one (a conflist fixed after a failed ADD) is
// torn down with the configured chain: no plugin the description names runs, nothing is left.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeSandbox, nothingHeld, SandboxEnv, show } from "./support/sandbox.js";

describeSandbox("sandbox-runner: recover pins a journalled CNI description (root, through the CLI)", () => {
  const env = new SandboxEnv(14);
  const lane = env.lane();
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  // Killed at mark-ready, which runs after both branches (cni-add | create-bundle -> start-container):
  // a kill in one branch can come before the other's IP is allocated.

  /** Rewrites every journal segment of the lane, replacing `from` by `to`. */
  function editJournal(from: string, to: string): void {
    const dir = path.join(lane.stateDir, "journal");
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".jsonl"))) {
      const file = path.join(dir, f);
      writeFileSync(file, readFileSync(file, "utf8").replaceAll(from, to));
    }
  }

  /** A run of pod `name` killed at mark-ready: everything acquired, in the journal, nothing released. */
  async function crashedRun(name: string): Promise<void> {
    const pod = env.podConfig({ metadata: { name, namespace: "default" } });
    const killed = await lane.cli(["run", "--failpoint", "mark-ready=crash", pod]);
    expect(killed.signal, show(killed)).toBe("SIGKILL");
  }

  /** recover succeeds, and every sandbox left is removed. */
  async function recoverThenRemoveAll(): Promise<void> {
    const recovered = await lane.cli(["--json", "recover"]);
    expect(recovered.code, show(recovered)).toBe(0);
    for (const r of await lane.ls()) {
      const rm = await lane.cli(["rm", r.id]);
      expect(rm.code, show(rm)).toBe(0);
    }
  }

  it("a journal line with another ipam.dataDir: refused, nothing run; put right: released", async () => {
    await crashedRun("web");
    const left = lane.held();
    expect(left.ipFiles.length).toBe(1);

    const elsewhere = path.join(env.work, "elsewhere");
    editJournal(JSON.stringify(env.cniDataDir), JSON.stringify(elsewhere));
    const refused = await lane.cli(["--json", "recover"]);
    expect(refused.code, show(refused)).toBe(1);
    const report = JSON.parse(refused.stdout) as { failed: { step: string; error: string }[] };
    expect(report.failed.map((f) => f.step)).toContain("cni-add");
    expect(report.failed.find((f) => f.step === "cni-add")?.error).toMatch(
      /refusing CNI DEL .*host-local dataDir .*elsewhere.* is not the CNI data dir/,
    );
    expect(existsSync(elsewhere), "host-local ran with the journal's dataDir").toBe(false);
    expect(lane.held().ipFiles).toEqual(left.ipFiles);
    expect(lane.held().netns).toEqual(left.netns);

    editJournal(JSON.stringify(elsewhere), JSON.stringify(env.cniDataDir));
    await recoverThenRemoveAll();
    expect(lane.held()).toEqual(nothingHeld);
  });

  it("a journal line whose plugin chain is not the configured one: torn down with the configured chain", async () => {
    await crashedRun("chain");
    expect(lane.held().ipFiles.length).toBe(1);

    // A plugin that is in no bin dir: had the stored chain run, its DEL would fail on it.
    editJournal(`{"type":"loopback"}`, `{"type":"edt-not-configured"},{"type":"loopback"}`);
    await recoverThenRemoveAll();
    expect(lane.held()).toEqual(nothingHeld);
  });
});
