// Saga table (issue 4, Benchmark): a 5-step saga (five resource steps over an in-memory fake
// adapter, run to commit) per second with no journal, a MemoryJournal, and a FileJournal with and
// without group commit, as ratios to no journal, all measured interleaved in this run; one saga
// at a time and 16 in flight. Then fsyncs per saga (FileJournal.syncs).
// DAG table (issue 10): a 6-step saga of two independent branches of 20 ms steps against the same
// steps as a chain, forward (to commit) and in rollback (a join step fails; every step's 20 ms
// compensation runs), in wall-clock ms, interleaved in this run.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { err, ok } from "neverthrow";
import { setTimeout as sleep } from "node:timers/promises";
import { saga, type ResourceAdapter } from "../src/index.js";
import { FileJournal, MemoryJournal, type Journal } from "../src/journal/index.js";
import { compare, formatInt, formatTable, medianRatio, type Case, type CaseResult } from "./measure.js";

const STEPS = 5;
const IN_FLIGHT = 16;

let acquired = 0;
let serial = 0;

/** An in-memory resource: acquiring it is an object and a counter. */
const fake: ResourceAdapter<{ id: number }, { id: number }, { id: number }> = {
  kind: "fake",
  plan: (spec) => ({ id: spec.id }),
  acquire: (plan) => {
    acquired++;
    return ok({ id: plan.id });
  },
  describe: (r) => ({ id: r.id }),
  release: () => undefined,
};

const fiveSteps = saga<number>("bench")
  .resource("s1", fake, { spec: (ctx) => ({ id: ctx.input }) })
  .resource("s2", fake, { spec: (ctx) => ({ id: ctx.s1.id + 1 }) })
  .resource("s3", fake, { spec: (ctx) => ({ id: ctx.s2.id + 1 }) })
  .resource("s4", fake, { spec: (ctx) => ({ id: ctx.s3.id + 1 }) })
  .resource("s5", fake, { spec: (ctx) => ({ id: ctx.s4.id + 1 }) });

async function once(journal: Journal | undefined): Promise<void> {
  const result = await fiveSteps.run(serial++, journal === undefined ? {} : { journal });
  if (result.isErr()) throw result.error;
  if (result.value.held.resources.length !== STEPS) throw new Error("saga handed over the wrong resources");
}

interface Variant {
  readonly name: string;
  journal(): Journal | undefined;
}

/** One case per variant; `width` sagas run at once per op. */
function cases(variants: readonly Variant[], width: number): Case[] {
  return variants.map((v) => ({
    name: v.name,
    op: () => (width === 1 ? once(v.journal()) : Promise.all(Array.from({ length: width }, () => once(v.journal())))),
    before: () => {
      acquired = 0;
    },
    verify: (ops) => {
      if (acquired !== ops * width * STEPS)
        throw new Error(`${v.name}: ${acquired} acquisitions for ${ops * width} sagas`);
    },
  }));
}

/** fsyncs per saga over `sagas` sagas run `width` at a time. */
async function syncsPerSaga(journal: FileJournal, sagas: number, width: number): Promise<number> {
  const before = journal.syncs;
  for (let done = 0; done < sagas; done += width) await Promise.all(Array.from({ length: width }, () => once(journal)));
  return (journal.syncs - before) / sagas;
}

const DAG_STEP_MS = 20;

/** A builder whose `after` is chosen at run time (the typed API wants literal names). */
interface LooseSaga {
  step(name: string, def: object): LooseSaga;
  run(): Promise<{ isErr(): boolean; isOk(): boolean }>;
}

/** Six 20 ms steps with 20 ms compensations: two branches of three (DAG) or one chain; then a join that fails or not. */
function sixSteps(dag: boolean, fail: boolean, failedAt: { at: number }): LooseSaga {
  const step = (after: readonly string[] | undefined) => ({
    ...(dag && after !== undefined ? { after } : {}),
    run: () => sleep(DAG_STEP_MS),
    compensate: () => sleep(DAG_STEP_MS),
  });
  return (saga("dag-bench") as unknown as LooseSaga)
    .step("a1", step([]))
    .step("a2", step(["a1"]))
    .step("a3", step(["a2"]))
    .step("b1", step([]))
    .step("b2", step(["b1"]))
    .step("b3", step(["b2"]))
    .step("join", {
      ...(dag ? { after: ["a3", "b3"] } : {}),
      run: () => {
        failedAt.at = performance.now();
        return fail ? err("join failed") : ok(true);
      },
    });
}

/** Median ms of forward (start to commit) and rollback (the join's failure to the Err). */
async function dagTimes(dag: boolean, rounds: number): Promise<{ forward: number[]; rollback: number[] }> {
  const forward: number[] = [];
  const rollback: number[] = [];
  const failedAt = { at: 0 };
  const ok6 = sixSteps(dag, false, failedAt);
  const failing = sixSteps(dag, true, failedAt);
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    if ((await ok6.run()).isErr()) throw new Error("the DAG bench saga failed");
    forward.push(performance.now() - t0);
    if ((await failing.run()).isOk()) throw new Error("the failing DAG bench saga succeeded");
    rollback.push(performance.now() - failedAt.at);
  }
  return { forward, rollback };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function dagTable(): Promise<void> {
  const rounds = 15;
  const chain = { forward: [] as number[], rollback: [] as number[] };
  const dag = { forward: [] as number[], rollback: [] as number[] };
  // Interleaved, a few rounds at a time, so that a busy moment hits both.
  for (let i = 0; i < rounds; i += 3) {
    const c = await dagTimes(false, 3);
    const d = await dagTimes(true, 3);
    chain.forward.push(...c.forward);
    chain.rollback.push(...c.rollback);
    dag.forward.push(...d.forward);
    dag.rollback.push(...d.rollback);
  }
  const row = (what: string, c: number[], d: number[]) => [
    what,
    median(c).toFixed(1),
    median(d).toFixed(1),
    `${(median(d) / median(c)).toFixed(2)}x`,
  ];
  console.log(
    `\nsaga DAG: 6 steps of ${DAG_STEP_MS} ms in two independent branches of 3 (after), against the same steps as a chain`,
  );
  console.log(
    formatTable(
      ["phase", "chain ms", "DAG ms", "DAG / chain"],
      [
        row("forward (to commit)", chain.forward, dag.forward),
        row(`rollback (a join fails; six ${DAG_STEP_MS} ms compensations)`, chain.rollback, dag.rollback),
      ],
    ),
  );
  console.log(`(median of ${rounds} runs each, interleaved; the critical path is half the chain: expect ~0.5x)`);
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "errdefer-bench-saga-"));
  const grouped = new FileJournal(path.join(dir, "grouped"));
  const single = new FileJournal(path.join(dir, "single"), { groupCommit: false });
  // The MemoryJournal keeps every line: start a new one now and then so memory stays flat.
  let memory = new MemoryJournal();
  let memoryUses = 0;
  const variants: Variant[] = [
    { name: "no journal", journal: () => undefined },
    {
      name: "MemoryJournal",
      journal: () => {
        if (++memoryUses % 4096 === 0) memory = new MemoryJournal();
        return memory;
      },
    },
    { name: "FileJournal, group commit", journal: () => grouped },
    { name: "FileJournal, no group commit", journal: () => single },
  ];
  try {
    console.log(
      `\nsaga: a ${STEPS}-step saga (in-memory resources, run to commit) per second; FileJournal in ${os.tmpdir()}`,
    );
    const opts = { rounds: 5, batchMs: 200, warmupMs: 100 };
    const seq = await compare(cases(variants, 1), opts);
    const par = await compare(cases(variants, IN_FLIGHT), opts);
    const syncs = new Map<string, [number, number]>([
      ["FileJournal, group commit", [await syncsPerSaga(grouped, 64, 1), await syncsPerSaga(grouped, 256, IN_FLIGHT)]],
      ["FileJournal, no group commit", [await syncsPerSaga(single, 64, 1), await syncsPerSaga(single, 256, IN_FLIGHT)]],
    ]);
    const ratio = (results: CaseResult[], i: number) =>
      `${medianRatio(results[0]!.secondsPerOp, results[i]!.secondsPerOp).toFixed(3)}x`;
    const rows = variants.map((v, i) => {
      const [s1, s16] = syncs.get(v.name) ?? [0, 0];
      return [
        v.name,
        formatInt(seq[i]!.medianOpsPerSecond),
        ratio(seq, i),
        formatInt(par[i]!.medianOpsPerSecond * IN_FLIGHT),
        ratio(par, i),
        s1.toFixed(2),
        s16.toFixed(2),
      ];
    });
    console.log(
      formatTable(
        [
          "journal",
          "sagas/s",
          "vs none",
          `sagas/s (${IN_FLIGHT} in flight)`,
          "vs none",
          "fsyncs/saga",
          `fsyncs/saga (${IN_FLIGHT})`,
        ],
        rows,
      ),
    );
    console.log(
      `(median of ${opts.rounds} interleaved rounds; "vs none" is the paired median of throughput relative to no journal)`,
    );
    await dagTable();
  } finally {
    await grouped.close();
    await single.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
