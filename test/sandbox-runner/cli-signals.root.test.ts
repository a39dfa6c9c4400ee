// Ctrl-C (SIGINT) or SIGTERM during `run` (issue 12): the run is aborted and rolled back, and the
// CLI exits 130 / 143 with nothing left; a second Ctrl-C exits at once, and `recover` then rolls
// back the rest. Failpoints hold the run in a step (and the rollback in a cleanup) so that the
// signal arrives where the test says, not where the machine's speed puts it.
import { afterAll, expect, it } from "vitest";
import { describeSandbox, nothingHeld, SandboxEnv, show, type Lane, type StartedCli } from "./support/sandbox.js";

describeSandbox("sandbox-runner: Ctrl-C and SIGTERM during run (root, through the CLI)", () => {
  const env = new SandboxEnv(17);
  const pod = env.podConfig({ metadata: { name: "web", namespace: "default", uid: "u-1" } });
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  /** A run held in start-container, once CNI ADD is done: a netns, a veth, an IP, a bundle are held. */
  async function runHeldInStart(lane: Lane, failpoints: string[] = [], group = false): Promise<StartedCli> {
    const points = ["start-container=delay:100000", ...failpoints].flatMap((f) => ["--failpoint", f]);
    const run = lane.start(["run", ...points, pod], { progress: true, group });
    await run.stderrMatches(/▸ start-container[^]*✔ cni-add|✔ cni-add[^]*▸ start-container/);
    expect(lane.held().netns).toHaveLength(1);
    expect(lane.held().ipFiles).toHaveLength(1);
    return run;
  }

  it.concurrent.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("%s mid-run: rolled back, exit %i, nothing left", async (signal, exit) => {
    const lane = env.lane();
    const run = await runHeldInStart(lane);
    run.kill(signal);
    const r = await run.done;
    expect(r.code, show(r)).toBe(exit);
    expect(r.stderr).toContain(`sandbox-runner: ${signal}: stopping the run and rolling back what it made`);
    expect(r.stderr).toMatch(/↩ remove-netns/);
    expect(r.stderr).toContain(`sandbox-runner: interrupted by ${signal}`);
    expect(r.stdout).toBe("");
    expect(lane.held()).toEqual(nothingHeld);
    expect(await lane.ls()).toEqual([]);
  });

  it.concurrent(
    "Ctrl-C at a terminal (SIGINT to the whole process group, ip -batch too): rolled back, exit 130",
    async () => {
      const lane = env.lane();
      const run = await runHeldInStart(lane, [], true);
      run.kill("SIGINT");
      const r = await run.done;
      expect(r.code, show(r)).toBe(130);
      expect(r.stderr).toMatch(/↩ remove-netns/);
      expect(lane.held()).toEqual(nothingHeld);
      expect(await lane.ls()).toEqual([]);
    },
  );

  it.concurrent("Ctrl-C twice: exits at once (130), saying so; recover then leaves nothing", async () => {
    const lane = env.lane();
    // The rollback is held in remove-bundle, so the second Ctrl-C finds it part-way.
    const run = await runHeldInStart(lane, ["remove-bundle=delay:100000"]);
    run.kill("SIGINT");
    await run.stderrMatches(/▸ remove-bundle/);
    run.kill("SIGINT");
    const r = await run.done;
    expect(r.code, show(r)).toBe(130);
    expect(r.stderr).toContain("sandbox-runner: SIGINT again: exiting now; `sandbox-runner recover` rolls back");
    const left = lane.held();
    expect(left.netns, "the run's netns is left for recover").toHaveLength(1);
    expect(left.bundles).toHaveLength(1);

    const recovered = await lane.cli(["recover"]);
    expect(recovered.code, show(recovered)).toBe(0);
    expect(lane.held()).toEqual(nothingHeld);
    expect(await lane.ls()).toEqual([]);
  });
});
