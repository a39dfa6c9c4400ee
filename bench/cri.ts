// The cri table (issue 13, item 7): our CRI server (`sandbox-runner serve`) side by side with
// containerd 1.6, both started by the bench on their own sockets, state and CNI networks, driven by
// the same in-repo CRI client with the same pod configs: run / stop / remove / cycle medians,
// sequential (alternating cycle by cycle) and 4 in parallel (alternating blocks), as ratios ours
// over containerd's. Then the failure comparison (a CNI chain broken after bridge) under both. At the
// end both are stopped (by the pids the bench started) and everything they made is removed.
// Either side may be missing: containerd not installed (how to install it is printed), or a
// checkout whose CLI has no `serve`; the other is then measured alone.
import { constants } from "node:os";
import path from "node:path";
import { formatTable, gc, median } from "./measure.js";
import { containerdMissing, startContainerd, type Containerd } from "./cri/containerd.js";
import { cycle, rate, smoke, type CriRuntime, type Cycle } from "./cri/cycle.js";
import { afterFix, failedRuns, formatFailure, type FailureReport } from "./cri/failure.js";
import {
  BREAKS,
  earlierRuns,
  freeSubnets,
  makeNetwork,
  makeRunEnv,
  sweep,
  type Break,
  type Network,
  type RunEnv,
} from "./cri/host.js";
import { ServerUnavailable, startOurs, type OurServer } from "./cri/ours.js";

const WARMUP_CYCLES = 3;
const SEQ_CYCLES = 30;
const PAR_CYCLES = 60;
const PAR_BLOCKS = 4;
const WIDTH = 4;
/** The pods' CRI namespace (metadata.namespace), the same for both runtimes. */
const POD_NAMESPACE = "errdefer-bench";

export interface SideFigures {
  readonly runMs: number;
  readonly stopMs: number;
  readonly removeMs: number;
  readonly cycleMs: number;
  readonly cyclesPerSecond: number;
  readonly parallelRate: number;
  readonly parallelCycleMs: number;
}

/** What `npm run -s bench -- cri --json` prints. */
export interface CriSummary {
  /** How to read the ratios. */
  readonly ratios: string;
  readonly ratioCycleToContainerd: number | null;
  readonly ratioRunToContainerd: number | null;
  readonly ratioStopToContainerd: number | null;
  readonly ratioRemoveToContainerd: number | null;
  readonly ratioParallelRateToContainerd: number | null;
  readonly ours: SideFigures | null;
  readonly containerd: SideFigures | null;
  /** Why a side was not measured. */
  readonly unavailable: { readonly ours?: string; readonly containerd?: string };
  readonly width: number;
  readonly sequentialCycles: number;
  readonly parallelCycles: number;
  readonly failure: readonly FailureReport[];
}

const RATIOS =
  "ours / containerd: a time ratio (cycle, run, stop, remove) below 1 and a rate ratio (parallel) above 1 mean ours is faster";

interface Sides {
  containerd?: Containerd;
  ours?: OurServer;
  /** Set by the final teardown: a runtime that finishes starting after it is stopped at once. */
  closed?: boolean;
}

/** Keeps a started runtime in `sides`, unless the teardown has begun (a signal): then it is stopped. */
async function keep<K extends "containerd" | "ours">(sides: Sides, key: K, side: NonNullable<Sides[K]>): Promise<void> {
  if (sides.closed === true) {
    reportProblems(await side.stop());
    throw new Error("cri: stopped while starting");
  }
  sides[key] = side;
}

interface Measured {
  readonly seq: Cycle[];
  readonly par: Cycle[];
  /** Seconds spent per parallel block (PAR_CYCLES / PAR_BLOCKS cycles each). */
  readonly blockSeconds: number[];
}

/** Each runtime's cycles, by its name. */
async function measure(rts: readonly CriRuntime[]): Promise<Map<string, Measured>> {
  const m = new Map<string, Measured>(rts.map((rt) => [rt.name, { seq: [], par: [], blockSeconds: [] }]));
  const scratch: Cycle[] = [];
  for (let i = 0; i < WARMUP_CYCLES; i++) for (const rt of rts) await cycle(rt, POD_NAMESPACE);
  for (const rt of rts) await rate(WIDTH * 2, WIDTH, () => cycle(rt, POD_NAMESPACE), scratch);
  gc();
  // Sequential: cycle by cycle, the order flipped every cycle, so drift hits both alike.
  for (let i = 0; i < SEQ_CYCLES; i++) {
    for (const rt of i % 2 === 0 ? rts : [...rts].reverse()) m.get(rt.name)!.seq.push(await cycle(rt, POD_NAMESPACE));
  }
  // 4 in parallel: blocks of each side in turn, the order flipped every block.
  const perBlock = PAR_CYCLES / PAR_BLOCKS;
  for (let b = 0; b < PAR_BLOCKS; b++) {
    for (const rt of b % 2 === 0 ? rts : [...rts].reverse()) {
      const side = m.get(rt.name)!;
      const r = await rate(perBlock, WIDTH, () => cycle(rt, POD_NAMESPACE), side.par);
      side.blockSeconds.push(perBlock / r);
    }
  }
  return m;
}

function figures(x: Measured): SideFigures {
  const cycleMs = median(x.seq.map((c) => c.total));
  return {
    runMs: median(x.seq.map((c) => c.run)),
    stopMs: median(x.seq.map((c) => c.stop)),
    removeMs: median(x.seq.map((c) => c.remove)),
    cycleMs,
    cyclesPerSecond: 1000 / cycleMs,
    parallelRate: PAR_CYCLES / x.blockSeconds.reduce((s, t) => s + t, 0),
    parallelCycleMs: median(x.par.map((c) => c.total)),
  };
}

const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : a / b);

function printFigures(ours: SideFigures | undefined, ctrd: SideFigures | undefined): void {
  const cell = (f: SideFigures | undefined, k: keyof SideFigures) => (f === undefined ? "-" : fmt(f[k]));
  const r = (k: keyof SideFigures) => {
    const x = ratio(ours?.[k], ctrd?.[k]);
    return x === null ? "-" : `${x.toFixed(2)}x`;
  };
  console.log(
    `\ncri: run -> stop -> remove through one CRI client (ms; ${SEQ_CYCLES} sequential cycles each, alternating cycle by cycle; ` +
      `then ${PAR_CYCLES} cycles each by ${WIDTH} workers, alternating blocks of ${PAR_CYCLES / PAR_BLOCKS})`,
  );
  const rows: [string, keyof SideFigures][] = [
    ["RunPodSandbox (median)", "runMs"],
    ["StopPodSandbox (median)", "stopMs"],
    ["RemovePodSandbox (median)", "removeMs"],
    ["full cycle (median)", "cycleMs"],
    ["sequential cycles/s", "cyclesPerSecond"],
    [`${WIDTH} in parallel: cycles/s`, "parallelRate"],
    [`${WIDTH} in parallel: cycle (median)`, "parallelCycleMs"],
  ];
  console.log(
    formatTable(
      ["", "ours", "containerd 1.6", "ours / containerd"],
      rows.map(([label, k]) => [label, cell(ours, k), cell(ctrd, k), r(k)]),
    ),
  );
  console.log(`(${RATIOS})`);
}

function summarize(
  ours: SideFigures | undefined,
  ctrd: SideFigures | undefined,
  unavailable: CriSummary["unavailable"],
  failure: FailureReport[],
): CriSummary {
  return {
    ratios: RATIOS,
    ratioCycleToContainerd: ratio(ours?.cycleMs, ctrd?.cycleMs),
    ratioRunToContainerd: ratio(ours?.runMs, ctrd?.runMs),
    ratioStopToContainerd: ratio(ours?.stopMs, ctrd?.stopMs),
    ratioRemoveToContainerd: ratio(ours?.removeMs, ctrd?.removeMs),
    ratioParallelRateToContainerd: ratio(ours?.parallelRate, ctrd?.parallelRate),
    ours: ours ?? null,
    containerd: ctrd ?? null,
    unavailable,
    width: WIDTH,
    sequentialCycles: SEQ_CYCLES,
    parallelCycles: PAR_CYCLES,
    failure,
  };
}

/**
 * Starts into `sides` (the caller's, so its teardown sees whatever started before a failure) the
 * runtimes that can run, on their good or broken conf dirs; records why one cannot.
 */
async function startSides(
  sides: Sides,
  env: RunEnv,
  nets: { ctrd: Network; ours: Network },
  conflist: "good" | Break,
  unavailable: { ours?: string; containerd?: string },
): Promise<void> {
  const conf = (n: Network) => n.confDirs[conflist];
  if (unavailable.containerd === undefined) {
    await keep(
      sides,
      "containerd",
      await startContainerd(path.join(env.tmp, "containerd"), nets.ctrd, conf(nets.ctrd), env.prefix),
    );
  }
  if (unavailable.ours === undefined) {
    try {
      await keep(sides, "ours", await startOurs(path.join(env.tmp, "ours"), nets.ours, conf(nets.ours), env.prefix));
    } catch (e) {
      if (!(e instanceof ServerUnavailable)) throw e;
      unavailable.ours = e.message;
      console.log(`cri: our server is not available (${e.message})`);
    }
  }
}

/** Stops what runs (each by the pid the bench started); returns the problems. */
async function stopSides(sides: Sides, keepSandboxes = false): Promise<string[]> {
  const problems: string[] = [];
  for (const side of [sides.ours, sides.containerd]) {
    if (side === undefined) continue;
    problems.push(
      ...(await side.stop({ keepSandboxes }).catch((e: unknown) => [`stop ${side.runtime.name}: ${String(e)}`])),
    );
  }
  delete sides.ours;
  delete sides.containerd;
  return problems;
}

/** Each runtime's CNI network and bridge names (bridges: at most 15 characters). */
function networkNames(env: RunEnv) {
  return {
    ctrd: { name: `${env.prefix}ctrd`, bridge: `${env.prefix}c` },
    ours: { name: `${env.prefix}ours`, bridge: `${env.prefix}o` },
  };
}

function runtimesOf(sides: Sides): CriRuntime[] {
  return [sides.ours?.runtime, sides.containerd?.runtime].filter((r): r is CriRuntime => r !== undefined);
}

/** One failure comparison: both on a broken conflist, then restarted on the good one. */
async function compareFailures(
  how: Break,
  sides: Sides,
  env: RunEnv,
  nets: { ctrd: Network; ours: Network },
  unavailable: CriSummary["unavailable"],
): Promise<FailureReport[]> {
  const problems = await stopSides(sides);
  await startSides(sides, env, nets, how, unavailable);
  const first = [];
  for (const rt of runtimesOf(sides)) first.push(await failedRuns(rt, how, POD_NAMESPACE, env.tmp));
  // A restart, not a conflist edit: containerd reloads its conf dir by itself, our runner at start.
  problems.push(...(await stopSides(sides, true)));
  await startSides(sides, env, nets, "good", unavailable);
  const reports: FailureReport[] = [];
  for (const rt of runtimesOf(sides)) {
    const half = first.find((f) => f.runtime === rt.name);
    if (half !== undefined) reports.push(await afterFix(rt, half, env.tmp));
  }
  console.log(`\ncri: failure comparison: ${BREAK_TITLES[how]} (containerd#12130)`);
  console.log(formatFailure(reports));
  if (problems.length > 0)
    console.error(`cri: problems stopping the runtimes between phases:\n  ${problems.join("\n  ")}`);
  return reports;
}

const BREAK_TITLES: Record<Break, string> = {
  missing: "a conflist of bridge -> a plugin missing from the bin dir -> loopback",
  failing: "a conflist of bridge -> a plugin that fails every ADD and DEL -> loopback",
};

/**
 * The teardown's problems, each kind once (sandboxes the CRI would not remove, such as those the
 * failure comparison leaves, fail alike; the sweep after it removes them by force).
 */
function reportProblems(problems: readonly string[]): void {
  if (problems.length === 0) return;
  const kinds = new Map<string, number>();
  for (const p of problems) {
    const kind = p.replace(/\b[0-9a-f]{12,64}\b/g, "<id>");
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const lines = [...kinds].map(([kind, n]) => (n === 1 ? kind : `${kind} (x${n})`));
  const head = "cri: cleanup problems (what the CRI would not remove, the sweep then removed by force)";
  console.error(`${head}:\n  ${lines.join("\n  ")}`);
}

/** Everything between setup and teardown: the networks, both runtimes, the figures, the failure comparison. */
async function measureAndCompare(
  env: RunEnv,
  sides: Sides,
  unavailable: CriSummary["unavailable"],
): Promise<CriSummary | undefined> {
  const [ctrdSubnet, oursSubnet] = await freeSubnets(2);
  const names = networkNames(env);
  const nets = {
    ctrd: await makeNetwork(path.join(env.tmp, "net-containerd"), names.ctrd.name, names.ctrd.bridge, ctrdSubnet!),
    ours: await makeNetwork(path.join(env.tmp, "net-ours"), names.ours.name, names.ours.bridge, oursSubnet!),
  };
  await startSides(sides, env, nets, "good", unavailable);
  const rts = runtimesOf(sides);
  if (rts.length === 0) {
    console.log("cri: neither runtime can run here; nothing measured");
    return undefined;
  }
  if (rts.length === 1) console.log(`cri: measuring ${rts[0]!.name === "ours" ? "our server" : "containerd"} alone`);
  for (const rt of rts) console.log(await smoke(rt, POD_NAMESPACE));
  const measured = await measure(rts);
  const side = (name: string) => (measured.has(name) ? figures(measured.get(name)!) : undefined);
  const [ours, ctrd] = [side("ours"), side("containerd")];
  printFigures(ours, ctrd);
  const reports: FailureReport[] = [];
  for (const how of BREAKS) reports.push(...(await compareFailures(how, sides, env, nets, unavailable)));
  return summarize(ours, ctrd, unavailable, reports);
}

export async function run(): Promise<CriSummary | undefined> {
  if (process.getuid?.() !== 0) {
    console.log("cri: skipped (needs root)");
    return undefined;
  }
  const unavailable: { ours?: string; containerd?: string } = {};
  const missing = await containerdMissing();
  if (missing !== undefined) {
    unavailable.containerd = missing;
    console.log(`cri: containerd is not measured: ${missing}`);
  }
  const env = await makeRunEnv();
  const earlier = await earlierRuns(env);
  if (earlier.length > 0) {
    console.error(
      `cri: an earlier run left these (a bench killed with SIGKILL; if none runs now, stop that containerd by its pid, ` +
        `umount what is mounted under the temp dir, delete the links and the dir):\n  ${earlier.join("\n  ")}`,
    );
  }
  const sides: Sides = {};
  // One teardown, whether the run ends, fails or a signal cuts it short (the runtimes run in
  // their own process groups, so a Ctrl-C reaches only the bench, which then stops them in order).
  let torn: Promise<string[]> | undefined;
  const teardown = () =>
    (torn ??= (async () => {
      sides.closed = true;
      return [...(await stopSides(sides)), ...(await sweep(env, Object.values(networkNames(env))))];
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`cri: ${signal}: stopping the runtimes and removing what they made`);
    void teardown().then((problems) => {
      reportProblems(problems);
      process.exit(128 + (constants.signals[signal] ?? 0));
    });
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let summary: CriSummary | undefined;
  let failure: unknown;
  try {
    summary = await measureAndCompare(env, sides, unavailable);
  } catch (e) {
    failure = e;
  } finally {
    reportProblems(await teardown());
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (failure !== undefined) throw failure;
  return summary;
}
