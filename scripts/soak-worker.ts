// One soak worker process: a Runner on the soak's state dir, `parallel` lanes of sandbox
// lifecycles (run, stop, rm) with failpoints drawn from the seed. A `crash` failpoint kills this
// whole process with SIGKILL; the parent then recovers and starts another worker.
// Reports one JSON line per finished cycle on stdout.
import { Runner } from "../examples/sandbox-runner/runner/index.js";
import type { FailAction, Failpoints } from "../examples/sandbox-runner/failpoints.js";
import { parsePodConfig } from "../examples/sandbox-runner/pod-config.js";
import { FAILPOINT_TARGETS } from "../examples/sandbox-runner/runner/steps.js";
import { pick, rng } from "./soak-rng.js";

export interface WorkerPlan {
  readonly stateDir: string;
  readonly cniDataDir: string;
  readonly prefix: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly seed: number;
  readonly firstCycle: number;
  readonly cycles: number;
  readonly parallel: number;
  /** Chance that a cycle's failpoint is a crash (SIGKILL of this process). */
  readonly crashRate: number;
  /** Chance that a journal write fails (storage fault), per write. */
  readonly journalFaultRate: number;
}

export interface CycleReport {
  readonly cycle: number;
  readonly failpoint: string | null;
  readonly ran: boolean;
  readonly rolledBack: boolean;
  readonly retained: boolean;
  readonly removed: boolean;
  readonly journalFault: boolean;
}

const plan = JSON.parse(process.env.SOAK_PLAN ?? "null") as WorkerPlan | null;
if (plan === null) throw new Error("soak-worker: SOAK_PLAN is not set");
const random = rng(plan.seed);
const targets = [...FAILPOINT_TARGETS];

function draw(): { target: string; action: FailAction } | undefined {
  if (random() < 0.4) return undefined;
  const target = pick(random, targets);
  const roll = random();
  const action: FailAction =
    roll < plan!.crashRate
      ? { type: "crash" }
      : roll < 0.75
        ? { type: "error" }
        : { type: "delay", ms: 1 + Math.floor(random() * 30) };
  return { target, action };
}

let journalFaults = 0;
const runner = await Runner.open({
  stateDir: plan.stateDir,
  cniDataDir: plan.cniDataDir,
  prefix: plan.prefix,
  bridge: plan.bridge,
  subnet: plan.subnet,
  lockWaitMs: 60_000,
  journalFault: () => {
    if (random() < plan.journalFaultRate) {
      journalFaults++;
      const e = new Error("injected journal write failure (ENOSPC)") as NodeJS.ErrnoException;
      e.code = "ENOSPC";
      throw e;
    }
  },
});

let next = plan.firstCycle;
const end = plan.firstCycle + plan.cycles;

async function lane(): Promise<void> {
  while (next < end) {
    const cycle = next++;
    const fp = draw();
    const failpoints: Failpoints = fp === undefined ? new Map() : new Map([[fp.target, [fp.action]]]);
    const faultsBefore = journalFaults;
    const config = parsePodConfig({
      metadata: { name: `soak-${cycle}`, namespace: "soak", uid: `u${cycle}`, attempt: 0 },
    })._unsafeUnwrap();
    const ran = await runner.run(config, { failpoints });
    let retained = false;
    let removed = true;
    if (ran.isOk()) {
      const stopped = await runner.stop(ran.value.id, { failpoints });
      const first = stopped.isOk() ? await runner.remove(ran.value.id, { failpoints }) : stopped;
      // The fault is lifted: a retry must finish what the first attempt could not (random journal
      // write faults stay on, hence a few tries).
      removed = first.isOk();
      for (let i = 0; i < 3 && !removed; i++) removed = (await runner.remove(ran.value.id)).isOk();
    } else {
      const kept = (await runner.list()).find((r) => r.name === config.metadata.name);
      retained = kept !== undefined;
      // A rollback that kept something (a failed cleanup) leaves it listed: rm finishes it.
      if (kept !== undefined) {
        removed = false;
        for (let i = 0; i < 3 && !removed; i++) removed = (await runner.remove(kept.id)).isOk();
      }
    }
    const report: CycleReport = {
      cycle,
      failpoint: fp === undefined ? null : `${fp.target}=${fp.action.type}`,
      ran: ran.isOk(),
      rolledBack: ran.isErr() && !retained,
      retained,
      removed,
      journalFault: journalFaults > faultsBefore,
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  }
}

await Promise.all(Array.from({ length: plan.parallel }, () => lane()));
await runner.close();
