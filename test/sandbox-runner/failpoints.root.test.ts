// A failpoint at every step and every cleanup of RunPodSandbox, through the CLI: what a failed
// step releases, what a failed cleanup keeps (listed NOTREADY), and what a later rm finishes.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { STEPS } from "../../examples/sandbox-runner/runner/steps.js";
import {
  cli,
  describeSandbox,
  nothingHeld,
  SandboxEnv,
  show,
  type Lane,
  type SandboxDetails,
} from "./support/sandbox.js";

const steps = STEPS.map((s) => s.step);
const cleanups = STEPS.flatMap((s) => (s.cleanup === undefined ? [] : [s.cleanup]));

/**
 * What the sandbox still holds after the rollback when `cleanup` fails (mark-ready failed, so every
 * cleanup runs): the failed one's resource, and the guarded ones after it (netns, record, name);
 * the unguarded ones (bundle, CNI) are still released.
 */
const retained: Record<string, string[]> = {
  "stop-container": ["reserve-name", "create-record", "create-netns", "start-container"],
  "remove-bundle": ["reserve-name", "create-record", "create-netns", "create-bundle"],
  // A failed CNI DEL keeps the netns (guarded removal), for the retry.
  "cni-del": ["reserve-name", "create-record", "create-netns", "cni-add"],
  "remove-netns": ["reserve-name", "create-record", "create-netns"],
  "delete-record": ["reserve-name", "create-record"],
  "release-name": ["reserve-name"],
};

describeSandbox("sandbox-runner failpoints (root, through the CLI)", () => {
  const env = new SandboxEnv(2);
  const pod = env.podConfig({ metadata: { name: "web", namespace: "default", uid: "u-1" } });
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  async function expectEmpty(lane: Lane): Promise<void> {
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
  }

  it.concurrent("`steps --json` lists every step and cleanup these tests cover", async () => {
    const r = await cli(["steps", "--json"]);
    expect(r.code, show(r)).toBe(0);
    const listed = JSON.parse(r.stdout) as { step: string; cleanup?: string }[];
    expect(listed.map((s) => s.step)).toEqual(steps);
    expect(listed.flatMap((s) => (s.cleanup === undefined ? [] : [s.cleanup]))).toEqual(cleanups);
    expect(Object.keys(retained).sort()).toEqual([...cleanups].sort());
  });

  it.concurrent.each(steps)("a failure at step %s: exit 1, everything released", async (step) => {
    const lane = env.lane();
    const r = await lane.cli(["run", "--failpoint", `${step}=error`, pod]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`injected failure at ${step}`);
    // ls is empty, and the host and the state dir hold nothing (the name was released too).
    await expectEmpty(lane);
  });

  it.concurrent.each(cleanups)(
    "a failure at cleanup %s: listed NOTREADY with what it holds; rm finishes",
    async (cleanup) => {
      const lane = env.lane();
      const r = await lane.cli(["run", "--failpoint", "mark-ready=error", "--failpoint", `${cleanup}=error`, pod]);
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toContain(`injected failure at ${cleanup}`);
      const [sandbox, ...others] = await lane.ls();
      expect(others).toEqual([]);
      expect(sandbox).toMatchObject({
        name: "web",
        namespace: "default",
        state: "NOTREADY",
        netnsPath: `/var/run/netns/${lane.prefix}${sandbox!.id}`,
      });
      // What `inspect` prints (the record), read directly: one CLI start less per case.
      const details = JSON.parse(
        readFileSync(path.join(lane.stateDir, "sandboxes", `${sandbox!.id}.json`), "utf8"),
      ) as SandboxDetails;
      const expected = retained[cleanup]!;
      expect(details.resources.map((x) => x.step)).toEqual(expected);
      expect(details.error).toContain(`injected failure at ${cleanup}`);
      // The host agrees with the record.
      const held = lane.held();
      expect(held.records).toEqual([`${sandbox!.id}.json`]);
      expect(held.names.length).toBe(expected.includes("reserve-name") ? 1 : 0);
      expect(held.netns).toEqual(expected.includes("create-netns") ? [lane.netnsName(sandbox!.id)] : []);
      expect(held.ipFiles.length).toBe(expected.includes("cni-add") ? 1 : 0);
      expect(held.bundles).toEqual(expected.includes("create-bundle") ? [sandbox!.id] : []);
      expect(held.containers).toEqual(expected.includes("start-container") ? [sandbox!.id] : []);

      // The fault lifted, rm finishes the job.
      const rm = await lane.cli(["rm", sandbox!.id]);
      expect(rm.code, show(rm)).toBe(0);
      await expectEmpty(lane);
    },
  );

  it.concurrent("delay:MS failpoints on a step and a cleanup show in the durations; nothing left", async () => {
    const lane = env.lane();
    const r = await lane.cli(
      [
        "run",
        "--failpoint",
        "cni-add=delay:300",
        "--failpoint",
        "remove-bundle=delay:200",
        // mark-ready, not start-container: a failure beside cni-add would abort its delay (R13).
        "--failpoint",
        "mark-ready=error",
        pod,
      ],
      { progress: true },
    );
    expect(r.code, show(r)).toBe(1);
    const duration = (name: string): number => {
      const m = new RegExp(`${name} +([0-9.]+) (ms|s)`).exec(r.stderr);
      expect(m, `${name} in\n${r.stderr}`).not.toBeNull();
      return Number(m![1]) * (m![2] === "s" ? 1000 : 1);
    };
    expect(duration("cni-add")).toBeGreaterThanOrEqual(300);
    expect(duration("remove-bundle")).toBeGreaterThanOrEqual(200);
    await expectEmpty(lane);
  });
  /** Whether `a` and `b` ran at once: both ▸ (started) lines come before either ✔ / ↩ (ended) line. */
  function overlapped(stderr: string, a: string, b: string, indent: string, end: string): void {
    const lines = stderr.split("\n");
    const at = (mark: string, name: string): number => {
      const i = lines.findIndex((l) => l.startsWith(`${indent}${mark} ${name}`));
      expect(i, `${mark} ${name} in\n${stderr}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(Math.max(at("▸", a), at("▸", b)), stderr).toBeLessThan(Math.min(at(end, a), at(end, b)));
  }

  it.concurrent(
    "CNI ADD runs beside the bundle + container branch, and CNI DEL beside the container's stop",
    async () => {
      const lane = env.lane();
      const delays = ["cni-add", "create-bundle", "cni-del", "stop-container"].flatMap((at) => [
        "--failpoint",
        `${at}=delay:300`,
      ]);
      const r = await lane.cli(["run", ...delays, "--failpoint", "mark-ready=error", pod], { progress: true });
      expect(r.code, show(r)).toBe(1);
      overlapped(r.stderr, "cni-add", "create-bundle", " ", "✔");
      overlapped(r.stderr, "cni-del", "stop-container", "   ", "↩");
      // The netns goes only once both branches were undone (R12).
      expect(r.stderr.indexOf("▸ remove-netns")).toBeGreaterThan(r.stderr.indexOf("↩ cni-del"));
      expect(r.stderr.indexOf("▸ remove-netns")).toBeGreaterThan(r.stderr.indexOf("↩ remove-bundle"));
      await expectEmpty(lane);
    },
  );
  it.concurrent("stop: the pause container's stop beside CNI DEL, then the netns", async () => {
    const lane = env.lane();
    const run = await lane.cli(["--json", "run", pod]);
    expect(run.code, show(run)).toBe(0);
    const { id } = JSON.parse(run.stdout) as { id: string };
    const delays = ["cni-del", "stop-container"].flatMap((at) => ["--failpoint", `${at}=delay:300`]);
    const stop = await lane.cli(["stop", ...delays, id], { progress: true });
    expect(stop.code, show(stop)).toBe(0);
    overlapped(stop.stderr, "cni-del", "stop-container", "   ", "↩");
    expect(stop.stderr.indexOf("▸ remove-netns")).toBeGreaterThan(stop.stderr.indexOf("↩ cni-del"));
    expect(stop.stderr.indexOf("▸ remove-netns")).toBeGreaterThan(stop.stderr.indexOf("↩ stop-container"));
    const rm = await lane.cli(["rm", id]);
    expect(rm.code, show(rm)).toBe(0);
    await expectEmpty(lane);
  });
});
