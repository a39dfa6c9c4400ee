// The DAG crash-test child: runs one journalled DAG saga (R13) whose resource steps take a few real
// milliseconds each, so that several are in flight at once, and SIGKILLs itself at the N-th hook
// point it passes with at least two acquisitions or releases in flight. Everything the parent
// must know survives in the fake log (appended and fsynced line by line; see plan.ts).
import { err, ok } from "neverthrow";
import { setTimeout as sleep } from "node:timers/promises";
import { releaseHeld, saga, type ResourceAdapter } from "../../src/index.js";
import { FileJournal, type Journal, type JournalRecord } from "../../src/journal/index.js";
import { DAG_STEPS, type DagCrashConfig } from "./dag-plan.js";
import { appendLog } from "./plan.js";

const config = JSON.parse(process.argv[2] ?? "") as DagCrashConfig;
let busy = 0;
let busyHits = 0;

/** A hook point: counts it when two or more operations are in flight, and dies at the chosen one. */
function hit(point: string): void {
  if (busy < 2) return;
  busyHits++;
  if (busyHits !== config.killAt) return;
  appendLog(config.log, { ev: "killed", at: `${point} (${busy} in flight)` });
  process.kill(process.pid, "SIGKILL");
}

const mark = (ev: string): void => appendLog(config.log, { ev });

/** Each resource is a line in the log; acquiring and releasing take a few milliseconds. */
const fake: ResourceAdapter<{ id: string }, { id: string }, { id: string }> = {
  kind: "fake",
  plan: (spec) => ({ id: spec.id }),
  acquire: async (plan) => {
    const step = plan.id.slice(plan.id.lastIndexOf(":") + 1);
    busy++;
    try {
      hit(`acquire-before:${step}`);
      appendLog(config.log, { ev: "acquire", id: plan.id });
      await sleep(2 + (step.length % 3) * 2);
      hit(`acquire-after:${step}`);
    } finally {
      busy--;
    }
    return config.failAt === step ? err(new Error(`injected acquire failure of ${plan.id}`)) : ok({ id: plan.id });
  },
  describe: (r) => ({ id: r.id }),
  release: async (desc) => {
    const step = desc.id.slice(desc.id.lastIndexOf(":") + 1);
    busy++;
    try {
      hit(`release-before:${step}`);
      await sleep(2 + (step.length % 3) * 2);
      if (config.failRelease === step) return err(new Error(`injected release failure of ${desc.id}`));
      appendLog(config.log, { ev: "release", id: desc.id });
      hit(`release-after:${step}`);
      return ok(undefined);
    } finally {
      busy--;
    }
  },
};

const file = new FileJournal(config.journalDir, { groupCommit: config.groupCommit });
const journal: Journal = {
  async append(record: JournalRecord, durable) {
    const label = `${record.t}${"step" in record ? `:${record.step}` : ""}`;
    hit(`before:${label}`);
    if (record.t === "commit") mark("commit-requested");
    await file.append(record, durable);
    if (record.t === "commit") mark("commit-durable");
    if (record.t === "adopt") mark("stop-adopted");
    hit(`after:${label}`);
  },
  openRecovery: () => file.openRecovery(),
  close: () => file.close(),
};

type Loose = {
  resource(name: string, adapter: typeof fake, def: object): Loose;
  step(name: string, def: object): Loose;
  run: (input: undefined, options: { journal: Journal }) => ReturnType<ReturnType<typeof saga>["run"]>;
};
let built = saga("crash-dag") as unknown as Loose;
for (const { step, after } of DAG_STEPS) {
  built = built.resource(step, fake, {
    after,
    spec: () => ({ id: `${config.runId}:${step}` }),
    ...(step === "vol" ? { guard: true } : {}),
    ...(step === "tmp" ? { on: "always" } : {}),
    ...(config.failAt === step ? { registerFirst: true } : {}),
  });
}
built = built.step("ready", {
  after: ["ctr", "logs"],
  run: () => (config.failAt === "ready" ? err(new Error("injected step failure")) : ok(true)),
});

const result = await built.run(undefined, { journal });
if (result.isOk() && config.stop) {
  mark("stop-begin");
  await releaseHeld(result.value.held, [fake], { journal });
  mark("stop-done");
}
await journal.close();
mark("done");
process.stdout.write(`${JSON.stringify({ ok: result.isOk(), busyHits })}\n`);
