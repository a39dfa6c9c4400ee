// What the engine table's ratios are made of (issue 14): floors measured side by side in CPU time,
// each adding one thing to the hand-written op, up to the engine's two forms (success path).
import { err, ok, ResultAsync, type Result } from "neverthrow";
import { transaction, type Transaction } from "../src/index.js";
import { compare, formatTable, medianRatio, type Case } from "./measure.js";

const STEPS = 10;
const ON_ERROR = { on: "error" } as const;
let released = 0;

async function acquireResource(id: number): Promise<{ readonly id: number }> {
  return { id };
}

function release(resource: { readonly id: number }): void {
  released += resource.id >= 0 ? 1 : 0;
}

async function body(): Promise<Result<{ readonly id: number }[], never>> {
  const held: { readonly id: number }[] = [];
  for (let i = 0; i < STEPS; i++) held.push(await acquireResource(i));
  return ok(held);
}

async function handWritten(): Promise<{ readonly id: number }[]> {
  const held: { readonly id: number }[] = [];
  try {
    for (let i = 0; i < STEPS; i++) held.push(await acquireResource(i));
    return held;
  } catch (e) {
    for (let i = held.length - 1; i >= 0; i--) release(held[i]!);
    throw e;
  }
}

/** Runs a transaction and checks it succeeded, so that no floor can look fast by failing. */
async function expectOk(result: ResultAsync<unknown, unknown>): Promise<void> {
  if ((await result).isErr()) throw new Error("bench/engine-floors: a transaction failed");
}

const floors: Record<string, () => Promise<void>> = {
  "hand-written": async () => {
    await handWritten();
  },
  "the body, returned as new ResultAsync(body().then(...)) (no engine)": () =>
    expectOk(new ResultAsync(body().then((r) => (r.isOk() ? ok(r.value) : err(r.error))))),
  "transaction(body), no registration": () => expectOk(transaction(body)),
  "+ the 10 release closures a registration needs (kept in an array)": () =>
    expectOk(
      transaction(async () => {
        const held: { readonly id: number }[] = [];
        const closures: (() => void)[] = [];
        for (let i = 0; i < STEPS; i++) {
          const r = await acquireResource(i);
          closures.push(() => release(r));
          held.push(r);
        }
        return ok(held);
      }),
    ),
  "tx.errdefer x10": () =>
    expectOk(
      transaction(async (tx: Transaction) => {
        const held: { readonly id: number }[] = [];
        for (let i = 0; i < STEPS; i++) {
          const r = await acquireResource(i);
          tx.errdefer(() => release(r));
          held.push(r);
        }
        return ok(held);
      }),
    ),
  "transaction, each step awaiting new ResultAsync(acquire().then(ok)) (no engine per step)": () =>
    expectOk(
      transaction(async () => {
        const held: { readonly id: number }[] = [];
        for (let i = 0; i < STEPS; i++) {
          const r = await new ResultAsync(acquireResource(i).then((v) => ok(v)));
          held.push(r._unsafeUnwrap());
        }
        return ok(held);
      }),
    ),
  "tx.acquire x10": () =>
    expectOk(
      transaction(async (tx: Transaction) => {
        const held: unknown[] = [];
        for (let i = 0; i < STEPS; i++) {
          const r = await tx.acquire(() => acquireResource(i), release, ON_ERROR);
          held.push(r._unsafeUnwrap());
        }
        return ok(held);
      }),
    ),
};

/** Prints the floors table; returns each floor's median ratio to hand-written, by name. */
export async function engineFloors(): Promise<Record<string, number>> {
  const cases: Case[] = Object.entries(floors).map(([name, op]) => ({ name, op }));
  const results = await compare(cases, { rounds: 11, batchMs: 100, warmupMs: 200, clock: "cpu" });
  if (released !== 0) throw new Error(`bench/engine-floors: ${released} releases on the success path`);
  const hand = results[0]!.secondsPerOp;
  const ratios = Object.fromEntries(results.map((r) => [r.name, medianRatio(r.secondsPerOp, hand)]));
  console.log(`\nFloors (success path, CPU time, median of 11 rounds; ratio to hand-written in the same round)`);
  console.log(
    formatTable(
      ["what is measured", "ratio"],
      results.map((r) => [r.name, `${ratios[r.name]!.toFixed(2)}x`]),
    ),
  );
  return ratios;
}
