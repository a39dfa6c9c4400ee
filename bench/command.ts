// The command table: what one spawned `/bin/true` costs the calling process, in CPU time
// (process.cpuUsage: this process only, not the child) and wall time, for each CommandRunner and
// for a bare child_process.spawn floor, all in the same run. spawnRunner exists only if it pays:
// its CPU per spawn against execaRunner's is the evidence. The dieWithParent row is what the
// setpriv wrapper adds (one exec more, in the child).
import { spawn } from "node:child_process";
import { execaRunner } from "../src/internal/command/execa-runner.js";
import { spawnRunner } from "../src/internal/command/spawn-runner.js";
import { formatTable, median, medianRatio } from "./measure.js";

const ROUNDS = 9;
const SPAWNS_PER_BATCH = 150;
const PROGRAM = "/bin/true";

interface Row {
  readonly name: string;
  /** One spawn of PROGRAM, awaited to its end; throws if it did not exit 0. */
  spawnOnce(): Promise<void>;
}

function runnerRow(name: string, runner: ReturnType<typeof spawnRunner>): Row {
  return {
    name,
    async spawnOnce() {
      const r = await runner.run([PROGRAM]);
      if (r.isErr() || r.value.exitCode !== 0) throw new Error(`${name}: ${PROGRAM} failed`);
    },
  };
}

/** The floor: child_process.spawn with nothing on top (no limits, no timeout, no output kept). */
const bareSpawn: Row = {
  name: "child_process.spawn (floor)",
  spawnOnce: () =>
    new Promise((resolve, reject) => {
      const child = spawn(PROGRAM, [], { stdio: ["ignore", "pipe", "pipe"] });
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
    }),
};

/** Seconds of CPU (user + system) and of wall time per spawn, over one batch. */
async function batch(row: Row, n: number): Promise<{ cpu: number; wall: number }> {
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await row.spawnOnce();
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  const used = process.cpuUsage(cpu0);
  return { cpu: (used.user + used.system) / 1e6 / n, wall: wall / n };
}

const us = (seconds: number) => `${(seconds * 1e6).toFixed(0)} us`;

export async function run(): Promise<void> {
  const rows = [
    runnerRow("execaRunner (netns default)", execaRunner()),
    runnerRow("spawnRunner", spawnRunner()),
    // The sandbox runner's CNI plugins and runc: one exec of setpriv more per command.
    runnerRow("spawnRunner, dieWithParent", spawnRunner({ dieWithParent: true })),
    bareSpawn,
  ];
  const cpu = rows.map(() => [] as number[]);
  const wall = rows.map(() => [] as number[]);
  for (const row of rows) await batch(row, 50); // warm up: JIT, page cache
  // Rounds rotate the order so drift on a noisy machine hits every row alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < rows.length; k++) {
      const i = (k + round) % rows.length;
      const m = await batch(rows[i]!, SPAWNS_PER_BATCH);
      cpu[i]!.push(m.cpu);
      wall[i]!.push(m.wall);
    }
  }
  const table = rows.map((row, i) => [
    row.name,
    us(median(cpu[i]!)),
    `${medianRatio(cpu[i]!, cpu[0]!).toFixed(2)}x`,
    us(median(wall[i]!)),
    `${medianRatio(wall[i]!, wall[0]!).toFixed(2)}x`,
  ]);
  console.log(
    `\ncommand: one ${PROGRAM} per run(), sequential; CPU is this process's (user + system), not the child's`,
  );
  console.log(formatTable(["runner", "CPU/spawn", "vs execa", "wall/spawn", "vs execa"], table));
  console.log(
    `(median of ${ROUNDS} interleaved rounds of ${SPAWNS_PER_BATCH}; "vs execa" is the paired median ratio to execaRunner)`,
  );
}
