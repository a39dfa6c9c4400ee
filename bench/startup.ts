// The startup table: what one start of the bundled sandbox-runner CLI (`errdefer-sandbox
// --version`) costs against a bare `node -e ''`, in wall time and in the child's CPU, in rounds
// that interleave the two so that a busy machine weighs on both alike. The ratio is what issue 12
// asks of the bundle (at most 2x); the tsx row shows what the bundle replaced.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatTable, median, medianRatio } from "./measure.js";

const ROUNDS = 9;
const STARTS_PER_BATCH = 10;
// .bench-dist/bench/startup.js or bench/startup.ts: the repo root is two levels up either way.
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, here.includes(`${path.sep}.bench-dist${path.sep}`) ? "../.." : "..");
const bundle = path.join(repoRoot, "examples/sandbox-runner/bin/errdefer-sandbox.mjs");
/** What the CLI is asked: the cheapest real answer, so that the figure is the start itself. */
const ARGS = ["--version"];

interface Row {
  readonly name: string;
  readonly argv: readonly string[];
}

const rows: readonly Row[] = [
  { name: "node -e '' (floor)", argv: ["-e", ""] },
  { name: `errdefer-sandbox ${ARGS.join(" ")} (bundled)`, argv: [bundle, ...ARGS] },
];
const tsxRow: Row = {
  name: "... through tsx, as before the bundle",
  argv: ["--conditions=source", "--import", "tsx", path.join(repoRoot, "examples/sandbox-runner/cli.ts"), ...ARGS],
};

/** CPU seconds (user + system) of this process's waited-for children: /proc/self/stat cutime + cstime. */
function childrenCpu(): number {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
  // Fields 16 and 17 of stat(5), counted from the state (field 3) at index 0; clock ticks of 1/100 s.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function startOnce(row: Row): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, row.argv, { cwd: repoRoot, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${row.name}: exit ${code}: ${stderr}`))));
  });
}

/** Seconds of wall time and of the children's CPU per start, over one batch. */
async function batch(row: Row, n: number): Promise<{ wall: number; cpu: number }> {
  const cpu0 = childrenCpu();
  const wall0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await startOnce(row);
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  return { wall: wall / n, cpu: (childrenCpu() - cpu0) / n };
}

const ms = (seconds: number) => `${(seconds * 1e3).toFixed(1)} ms`;

export async function run(): Promise<object> {
  // The bundle as `npm run sandbox-runner` runs it: built first when stale.
  const built = spawnSync(process.execPath, [path.join(repoRoot, "scripts/build-cli.js"), "--if-stale"], {
    stdio: "inherit",
  });
  if (built.status !== 0) throw new Error("scripts/build-cli.js failed");
  const measured = [...rows, tsxRow];
  const wall = measured.map(() => [] as number[]);
  const cpu = measured.map(() => [] as number[]);
  for (const row of measured) await batch(row, 2); // warm up: page cache
  for (let round = 0; round < ROUNDS; round++) {
    // The tsx row is slow and only for reference: one start per round.
    for (let k = 0; k < measured.length; k++) {
      const i = (k + round) % measured.length;
      const m = await batch(measured[i]!, measured[i] === tsxRow ? 1 : STARTS_PER_BATCH);
      wall[i]!.push(m.wall);
      cpu[i]!.push(m.cpu);
    }
  }
  const table = measured.map((row, i) => [
    row.name,
    ms(median(wall[i]!)),
    `${medianRatio(wall[i]!, wall[0]!).toFixed(2)}x`,
    ms(median(cpu[i]!)),
  ]);
  console.log("\nstartup: one process start to its exit, sequential");
  console.log(formatTable(["command", "wall/start", "vs node -e ''", "child CPU/start"], table));
  console.log(
    `(median of ${ROUNDS} interleaved rounds of ${STARTS_PER_BATCH} starts (tsx: 1); "vs node" is the paired median ratio of wall time; CPU from /proc/self/stat, 10 ms ticks)`,
  );
  const bundled = 1;
  return {
    bundledVsNode: medianRatio(wall[bundled]!, wall[0]!),
    bundledMs: median(wall[bundled]!) * 1e3,
    nodeMs: median(wall[0]!) * 1e3,
    tsxMs: median(wall[2]!) * 1e3,
    target: 2,
  };
}
