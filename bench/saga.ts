// Saga table (issue 4, Benchmark): a 5-step saga (five resource steps over an in-memory fake
// adapter, run to commit) per second with no journal, a MemoryJournal, and a FileJournal with and
// without group commit, as ratios to no journal, all measured interleaved in this run; one saga
// at a time and 16 in flight. Then fsyncs per saga (FileJournal.syncs).
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ok } from "neverthrow";
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
  } finally {
    await grouped.close();
    await single.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
