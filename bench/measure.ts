// Small, generic timing helpers shared by the bench tables: interleaved rounds with a GC
// between batches, medians, paired ratios and a plain-text table.

/** A forced major GC when node runs with --expose-gc; returns false (and does nothing) otherwise. */
export function gc(): boolean {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (typeof collect !== "function") return false;
  collect();
  collect();
  return true;
}

export const gcAvailable: boolean = typeof (globalThis as { gc?: unknown }).gc === "function";

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median over rounds of a[i] / b[i] (paired: both were measured in the same round). */
export function medianRatio(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(a[i]! / b[i]!);
  return median(ratios);
}

/**
 * What a batch is timed with: `wall` (elapsed time) or `cpu` (this process's user + system CPU
 * time: on a shared, loaded machine the time the process waits for a core is left out, which
 * otherwise inflates a short op, the hand-written baseline, more than a long one).
 */
export type Clock = "wall" | "cpu";

/** Runs `op` `n` times sequentially (each awaited); returns the elapsed (or CPU) seconds. */
export async function timeBatch(op: () => Promise<unknown>, n: number, clock: Clock = "wall"): Promise<number> {
  if (clock === "cpu") {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) await op();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1e6;
  }
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await op();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Runs `op` for about `ms` milliseconds (warms it up) and returns its rough seconds per op. */
export async function warmUp(op: () => Promise<unknown>, ms: number, clock: Clock = "wall"): Promise<number> {
  let n = 1;
  let total = 0;
  let ops = 0;
  while (total * 1000 < ms) {
    total += await timeBatch(op, n, clock);
    ops += n;
    n = Math.min(n * 2, 1 << 20);
  }
  return total / ops;
}

export interface Case {
  readonly name: string;
  /** One operation. */
  op(): Promise<unknown>;
  /** Called before each batch (reset counters). */
  before?(): void;
  /** Called after each batch with the number of ops run; throws if the work was not done. */
  verify?(ops: number): void;
}

export interface CompareOptions {
  /** Measured rounds; each round runs one batch of every case, in a rotated order. */
  readonly rounds: number;
  /** Target duration of one batch, in ms (the batch size is calibrated per case). */
  readonly batchMs: number;
  /** Warm-up per case before the rounds, in ms. */
  readonly warmupMs: number;
  /** Fixed batch size instead of calibrating (for slow ops). */
  readonly opsPerBatch?: number;
  /**
   * Force a GC at the start of every round (default false: one before the warm-up only). A forced
   * GC shrinks V8's young generation, which then slows allocation-heavy cases (Effect: 2-4x for
   * hundreds of ops) far more than lean ones, so it skews ratios instead of evening them out.
   */
  readonly gcBetweenRounds?: boolean;
  /** How batches are timed (default `wall`). */
  readonly clock?: Clock;
}

export interface CaseResult {
  readonly name: string;
  readonly opsPerBatch: number;
  /** Seconds per op, one entry per round (same round index = same round for every case). */
  readonly secondsPerOp: readonly number[];
  readonly medianSecondsPerOp: number;
  readonly medianOpsPerSecond: number;
}

/**
 * Measures every case in the same run: a forced GC (when available), warm-up and calibration,
 * then `rounds` rounds, each running one batch of every case in a rotated order, each batch after
 * an untimed re-warm of a tenth of its size (the other cases' batches cool its caches and code).
 */
export async function compare(cases: readonly Case[], opts: CompareOptions): Promise<CaseResult[]> {
  const sizes: number[] = [];
  gc();
  for (const c of cases) {
    c.before?.();
    const perOp = await warmUp(() => c.op(), opts.warmupMs, opts.clock);
    sizes.push(opts.opsPerBatch ?? Math.max(1, Math.round(opts.batchMs / 1000 / perOp)));
  }
  const samples: number[][] = cases.map(() => new Array<number>(opts.rounds).fill(Number.NaN));
  for (let round = 0; round < opts.rounds; round++) {
    if (opts.gcBetweenRounds === true) gc();
    for (let k = 0; k < cases.length; k++) {
      const idx = (k + round) % cases.length;
      const c = cases[idx]!;
      const n = sizes[idx]!;
      c.before?.();
      await timeBatch(() => c.op(), Math.ceil(n / 10));
      c.before?.();
      const seconds = await timeBatch(() => c.op(), n, opts.clock);
      c.verify?.(n);
      samples[idx]![round] = seconds / n;
    }
  }
  return cases.map((c, i) => {
    const s = samples[i]!;
    const med = median(s);
    return {
      name: c.name,
      opsPerBatch: sizes[i]!,
      secondsPerOp: s,
      medianSecondsPerOp: med,
      medianOpsPerSecond: 1 / med,
    };
  });
}

/** Formats rows as an aligned plain-text table (first column left, the others right). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

/** 1234567.8 -> "1,234,568". */
export function formatInt(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

/** Seconds -> "0.67 us" / "1.2 ms". */
export function formatDuration(seconds: number): string {
  if (seconds < 1e-3) return `${(seconds * 1e6).toFixed(2)} us`;
  if (seconds < 1) return `${(seconds * 1e3).toFixed(2)} ms`;
  return `${seconds.toFixed(2)} s`;
}
