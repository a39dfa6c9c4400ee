// The netns table: create+remove pairs per second for each driver, as ratios to raw `ip -batch`
// doing the same pairs in this same run (and next to one `ip` process per op).
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import {
  createBatchDriver,
  createNetns,
  createProcessDriver,
  sweepNetns,
  type NetnsDriver,
} from "../src/netns/index.js";

const execFileAsync = promisify(execFile);
const prefix = `edb${randomBytes(3).toString("hex")}-`;
let serial = 0;
const fresh = () => `${prefix}${serial++}`;

/** Pairs per second of `pairs` create+remove pairs run by `width` workers. */
async function rate(pairs: number, width: number, pair: () => Promise<void>): Promise<number> {
  let left = pairs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (left-- > 0) await pair();
    }),
  );
  return pairs / ((performance.now() - started) / 1000);
}

/** Raw floor: `width` `ip -force -batch -` processes, each handed its share of the pairs at once. */
async function rawBatch(pairs: number, width: number): Promise<number> {
  const scripts = Array.from({ length: width }, (_, w) => {
    let s = "";
    for (let i = w; i < pairs; i += width) {
      const n = fresh();
      s += `netns add ${n}\nnetns del ${n}\n`;
    }
    return s;
  });
  const started = performance.now();
  await Promise.all(
    scripts.map(
      (script) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn("ip", ["-force", "-batch", "-"], { stdio: ["pipe", "ignore", "inherit"] });
          child.on("error", reject);
          child.on("exit", () => resolve());
          child.stdin.end(script);
        }),
    ),
  );
  return pairs / ((performance.now() - started) / 1000);
}

/** Peer: one `ip` process per operation, as a shell script or containerd's CNI path would do. */
async function ipPerOp(pairs: number, width: number): Promise<number> {
  return rate(pairs, width, async () => {
    const n = fresh();
    await execFileAsync("ip", ["netns", "add", n]);
    await execFileAsync("ip", ["netns", "del", n]);
  });
}

async function driverPairs(driver: NetnsDriver, pairs: number, width: number): Promise<number> {
  return rate(pairs, width, async () => {
    const ns = (await createNetns({ name: fresh(), driver }))._unsafeUnwrap();
    (await ns.remove())._unsafeUnwrap();
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The summary `npm run bench -- netns --json` prints: the batch driver against raw `ip -batch`. */
export interface NetnsSummary {
  readonly sequentialRatio: number;
  readonly parallelRatio: number;
  /** The batch driver with one process (the default before issue 14), for comparison. */
  readonly oneProcessSequentialRatio: number;
  readonly oneProcessParallelRatio: number;
  readonly floorSequentialPerSecond: number;
  readonly floorParallelPerSecond: number;
  readonly rounds: number;
}

export async function run(): Promise<NetnsSummary | undefined> {
  if (process.getuid?.() !== 0) {
    console.log("netns: skipped (needs root: CAP_SYS_ADMIN)");
    return undefined;
  }
  const fast = createBatchDriver();
  const fast1 = createBatchDriver({ processes: 1 });
  const slow = createProcessDriver();
  const rounds = 5;
  const fastPairs = 300;
  const slowPairs = 40;
  type Row = { name: string; measure: (width: number) => Promise<number> };
  const rows: Row[] = [
    { name: "ip -batch (floor)", measure: (w) => rawBatch(fastPairs, w) },
    { name: "ip, one process per op", measure: (w) => ipPerOp(slowPairs, w) },
    { name: "driver: batch (default)", measure: (w) => driverPairs(fast, fastPairs, w) },
    { name: "driver: batch, 1 process", measure: (w) => driverPairs(fast1, fastPairs, w) },
    { name: "driver: process", measure: (w) => driverPairs(slow, slowPairs, w) },
  ];
  try {
    // warm up: page cache, the batch processes, the JIT
    for (const row of rows) for (const w of [1, 4]) await row.measure(w);
    const samples = new Map<string, number[]>();
    // Rounds interleave the rows so drift on a noisy VM hits all of them alike.
    for (let r = 0; r < rounds; r++) {
      for (const row of rows) {
        for (const w of [1, 4]) {
          const key = `${row.name}|${w}`;
          samples.set(key, [...(samples.get(key) ?? []), await row.measure(w)]);
        }
      }
    }
    const get = (name: string, w: number) => median(samples.get(`${name}|${w}`)!);
    const floor1 = get("ip -batch (floor)", 1);
    const floor4 = get("ip -batch (floor)", 4);
    const table = rows.map((row) => {
      const s = get(row.name, 1);
      const c = get(row.name, 4);
      return {
        "create+remove pairs": row.name,
        "sequential /s": Math.round(s),
        "vs ip -batch": `${(s / floor1).toFixed(2)}x`,
        "4 in flight /s": Math.round(c),
        "vs ip -batch (4 procs)": `${(c / floor4).toFixed(2)}x`,
      };
    });
    console.log(
      `\nnetns: create+remove pairs/s, median of ${rounds} rounds (target: batch driver >= 0.9x of ip -batch)`,
    );
    console.table(table);
    return {
      sequentialRatio: get("driver: batch (default)", 1) / floor1,
      parallelRatio: get("driver: batch (default)", 4) / floor4,
      oneProcessSequentialRatio: get("driver: batch, 1 process", 1) / floor1,
      oneProcessParallelRatio: get("driver: batch, 1 process", 4) / floor4,
      floorSequentialPerSecond: floor1,
      floorParallelPerSecond: floor4,
      rounds,
    };
  } finally {
    await sweepNetns({ prefix, keep: () => false, driver: slow });
    await fast.close();
    await fast1.close();
  }
}
