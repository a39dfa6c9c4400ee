// SIGKILL of the runner (`--failpoint X=crash`) at steps and cleanups chosen by fast-check, then
// `recover`: nothing is left (a sandbox that had reached READY stays, and rm removes it), and a
// second `recover` has nothing to do.
import { readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, expect, it } from "vitest";
import { STEPS } from "../../examples/sandbox-runner/runner/steps.js";
import { describeSandbox, nothingHeld, SandboxEnv, show, type Lane } from "./support/sandbox.js";

const steps = STEPS.map((s) => s.step);

interface Scenario {
  /** Where the runner is killed. */
  readonly crash: string;
  /** For a cleanup: the step that fails, so that the rollback reaches it. */
  readonly fail: string | undefined;
}

/** A step, or a cleanup with a later step failing so that it runs. */
const scenario: fc.Arbitrary<Scenario> = fc.oneof(
  fc.constantFrom(...steps).map((crash) => ({ crash, fail: undefined })),
  fc
    .constantFrom(...STEPS.flatMap((s, i) => (s.cleanup === undefined ? [] : [{ cleanup: s.cleanup, index: i }])))
    .chain(({ cleanup, index }) =>
      fc.constantFrom(...steps.slice(index + 1)).map((fail) => ({ crash: cleanup, fail })),
    ),
);

// Three lanes in parallel, five runs each: 15 crashes.
const LANES = 3;
const RUNS = 5;

describeSandbox("sandbox-runner: SIGKILL at random points, then recover (root, through the CLI)", () => {
  const env = new SandboxEnv(5);
  const pod = env.podConfig({ metadata: { name: "web", namespace: "default" } });
  const seen: string[] = [];
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  async function crashThenRecover(lane: Lane, s: Scenario): Promise<void> {
    seen.push(s.crash);
    const failpoints = [
      "--failpoint",
      `${s.crash}=crash`,
      ...(s.fail === undefined ? [] : ["--failpoint", `${s.fail}=error`]),
    ];
    const run = await lane.cli(["run", ...failpoints, pod]);
    expect(run.signal, show(run)).toBe("SIGKILL");

    const recovered = await lane.cli(["--json", "recover"]);
    expect(recovered.code, show(recovered)).toBe(0);
    const report = JSON.parse(recovered.stdout) as { failed: unknown[]; retained: unknown[] };
    expect(report.failed).toEqual([]);
    expect(report.retained).toEqual([]);

    // Contract point 2: a killed run is rolled back and no longer listed, unless it was READY.
    const records = lane
      .held()
      .records.map(
        (f) =>
          JSON.parse(readFileSync(path.join(lane.stateDir, "sandboxes", f), "utf8")) as { id: string; state: string },
      );
    for (const r of records) {
      expect(r.state, `after a crash at ${s.crash}`).toBe("READY");
      const rm = await lane.cli(["rm", r.id]);
      expect(rm.code, show(rm)).toBe(0);
    }

    const again = await lane.cli(["--json", "recover"]);
    expect(again.code, show(again)).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ transactions: 0, released: [], failed: [], retained: [] });
    expect(lane.held(), `after a crash at ${s.crash}${s.fail === undefined ? "" : ` (${s.fail} failing)`}`).toEqual(
      nothingHeld,
    );
  }

  it.concurrent.each(Array.from({ length: LANES }, (_, i) => i))(
    "lane %i: crash, recover, nothing left",
    async () => {
      const lane = env.lane();
      await fc.assert(
        fc.asyncProperty(scenario, (s) => crashThenRecover(lane, s)),
        { numRuns: RUNS, endOnFailure: true },
      );
    },
    150_000,
  );

  it("hit both steps and cleanups", () => {
    expect(seen).toHaveLength(LANES * RUNS);
    expect(seen.some((t) => steps.includes(t))).toBe(true);
    expect(seen.some((t) => !steps.includes(t))).toBe(true);
  });
});
