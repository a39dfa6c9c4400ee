// Engine table (issue 2, Benchmark): a transaction with 10 acquisitions, on the success path
// (failure-only cleanups, none run, the resources are handed out) and failing at the end (the
// body fails after the 10 acquisitions; all 10 releases run, in reverse), in ops/s and as a cost
// ratio to the same work written by hand, all measured interleaved in this run. Then memory:
// 1,000,000 sequential transactions and heapUsed after a forced GC before and after.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { err, ok, type Result } from "neverthrow";
import { Cause, Effect, Exit, Option } from "effect";
import { isTransactionError, transaction, type Transaction } from "../src/index.js";
import { engineFloors } from "./engine-floors.js";
import {
  compare,
  formatDuration,
  formatInt,
  formatTable,
  gc,
  gcAvailable,
  medianRatio,
  type Case,
  type CaseResult,
} from "./measure.js";

// The polyfill has no types. Its `implementation` entry: the package's main entry returns the
// native class where there is one (Node 24), which would make this row the native one.
const AsyncDisposableStackPolyfill = createRequire(import.meta.url)(
  "disposablestack/AsyncDisposableStack/implementation",
) as AsyncDisposableStackConstructor;
/** Node 24's own AsyncDisposableStack; undefined on Node 20 and 22 (its row is then skipped). */
const AsyncDisposableStackNative = (globalThis as { AsyncDisposableStack?: AsyncDisposableStackConstructor })
  .AsyncDisposableStack;

/**
 * ERRDEFER_BENCH_BASELINE=<another build's .bench-dist/src/index.js>: that engine's two forms are
 * measured in the same rounds as this one's (an A/B in one process: between processes the ratios
 * move by +-0.2x with the JIT's decisions).
 */
const baselinePath = process.env["ERRDEFER_BENCH_BASELINE"];
const baseline =
  baselinePath === undefined
    ? undefined
    : ((await import(pathToFileURL(resolve(baselinePath)).href)) as {
        transaction: typeof transaction;
        isTransactionError: typeof isTransactionError;
      });

const ACQUISITIONS = 10;
const ID_SUM = (ACQUISITIONS * (ACQUISITIONS - 1)) / 2;
const FAILURE_MESSAGE = "step 11 failed";
/** Issue 14: tx.errdefer/tx.defer within 1.2x of hand-written, tx.acquire within 1.5x. */
const TARGET_RATIO = 1.2;
const ACQUIRE_TARGET_RATIO = 1.5;
const MEMORY_TRANSACTIONS = 1_000_000;
const MEMORY_TARGET_PCT = 5;

// --- the work: shared by every implementation -------------------------------------------------

interface Resource {
  readonly id: number;
  readonly kind: string;
}

// Counters, reset before each batch and checked after it, so a broken implementation cannot
// look fast by skipping work.
let acquired = 0;
let released = 0;
let releasedIdSum = 0;
let handedOut = 0;
let failuresSeen = 0;
/** When set (the one-off correctness check), releases record their order here. */
let releaseOrder: number[] | undefined;

function resetCounters(): void {
  acquired = 0;
  released = 0;
  releasedIdSum = 0;
  handedOut = 0;
  failuresSeen = 0;
}

/** An acquisition: an async function returning a small object. */
async function acquireResource(id: number): Promise<Resource> {
  acquired++;
  return { id, kind: "res" };
}

/** A release: a sync function that bumps a counter. */
function releaseResource(r: Resource): void {
  released++;
  releasedIdSum += r.id;
  releaseOrder?.push(r.id);
}

function isFailure(e: unknown): boolean {
  return e instanceof Error && e.message === FAILURE_MESSAGE;
}

// --- (1) hand-written, Go style: async function, try/catch, a flag -----------------------------

async function handWritten(fail: boolean): Promise<Resource[]> {
  const held: Resource[] = [];
  let committed = false; // Go: `rollback = false` once the step is done
  try {
    for (let i = 0; i < ACQUISITIONS; i++) held.push(await acquireResource(i));
    if (fail) throw new Error(FAILURE_MESSAGE);
    committed = true;
    return held;
  } catch (e) {
    if (committed) throw e;
    let cleanupErrors: unknown[] | undefined;
    for (let i = held.length - 1; i >= 0; i--) {
      try {
        releaseResource(held[i]!);
      } catch (cleanupError) {
        (cleanupErrors ??= []).push(cleanupError);
      }
    }
    throw cleanupErrors === undefined ? e : new AggregateError([e, ...cleanupErrors], "cleanup failed");
  }
}

function handWrittenOp(fail: boolean): () => Promise<void> {
  return async () => {
    try {
      handedOut += (await handWritten(fail)).length;
    } catch (e) {
      if (isFailure(e)) failuresSeen++;
    }
  };
}

// --- (2) errdefer, tx.acquire(acquire, release, { on: "error" }) -------------------------------

const ON_ERROR = { on: "error" } as const;

function errdeferAcquireBody(fail: boolean) {
  return async (tx: Transaction): Promise<Result<Resource[], unknown>> => {
    const held: Resource[] = [];
    for (let i = 0; i < ACQUISITIONS; i++) {
      const r = await tx.acquire(() => acquireResource(i), releaseResource, ON_ERROR);
      if (r.isErr()) return err(r.error);
      held.push(r.value);
    }
    if (fail) return err(new Error(FAILURE_MESSAGE));
    return ok(held);
  };
}

// --- (3) errdefer, await acquire(); tx.errdefer(release) ---------------------------------------

function errdeferRegisterBody(fail: boolean) {
  return async (tx: Transaction): Promise<Result<Resource[], unknown>> => {
    const held: Resource[] = [];
    for (let i = 0; i < ACQUISITIONS; i++) {
      const r = await acquireResource(i);
      tx.errdefer(() => releaseResource(r));
      held.push(r);
    }
    if (fail) return err(new Error(FAILURE_MESSAGE));
    return ok(held);
  };
}

function errdeferOp(
  body: (tx: Transaction) => Promise<Result<Resource[], unknown>>,
  engine: { transaction: typeof transaction; isTransactionError: typeof isTransactionError } = {
    transaction,
    isTransactionError,
  },
) {
  return async (): Promise<void> => {
    const result = await engine.transaction(body);
    if (result.isOk()) {
      handedOut += result.value.length;
    } else if (
      engine.isTransactionError(result.error) &&
      isFailure(result.error.cause) &&
      result.error.cleanupFailures.length === 0
    ) {
      failuresSeen++;
    }
  };
}

// --- (4) AsyncDisposableStack, the polyfill and the native one: adopt() per resource, move() on success

async function disposableStack(Stack: AsyncDisposableStackConstructor, fail: boolean): Promise<Resource[]> {
  // `await using stack = ...` written out: dispose on the way out; move() empties it on success.
  const stack = new Stack();
  try {
    const held: Resource[] = [];
    for (let i = 0; i < ACQUISITIONS; i++) {
      held.push(stack.adopt(await acquireResource(i), releaseResource));
    }
    if (fail) throw new Error(FAILURE_MESSAGE);
    stack.move(); // ownership passes to the caller (who would dispose the moved stack later)
    return held;
  } finally {
    await stack.disposeAsync();
  }
}

function disposableStackOp(Stack: AsyncDisposableStackConstructor, fail: boolean): () => Promise<void> {
  return async () => {
    try {
      handedOut += (await disposableStack(Stack, fail)).length;
    } catch (e) {
      if (isFailure(e)) failuresSeen++;
    }
  };
}

// --- (5) Effect 3: Effect.scoped + Effect.acquireRelease, release only on a failure Exit -------

function effectProgram(fail: boolean) {
  return Effect.scoped(
    Effect.gen(function* () {
      const held: Resource[] = [];
      for (let i = 0; i < ACQUISITIONS; i++) {
        held.push(
          yield* Effect.acquireRelease(
            Effect.promise(() => acquireResource(i)),
            (r, exit) => (Exit.isFailure(exit) ? Effect.sync(() => releaseResource(r)) : Effect.void),
          ),
        );
      }
      if (fail) return yield* Effect.failSync(() => new Error(FAILURE_MESSAGE));
      return held;
    }),
  );
}

function effectOp(fail: boolean): () => Promise<void> {
  const program = effectProgram(fail); // an Effect is a description: build once, run many times
  return async () => {
    const exit = await Effect.runPromiseExit(program);
    if (Exit.isSuccess(exit)) {
      handedOut += exit.value.length;
    } else {
      const failure = Cause.failureOption(exit.cause);
      if (Option.isSome(failure) && isFailure(failure.value)) failuresSeen++;
    }
  };
}

// --- cases and checks --------------------------------------------------------------------------

type Path = "success" | "failure";
const PATHS: readonly Path[] = ["success", "failure"];

interface Impl {
  readonly name: string;
  readonly short: string;
  readonly isErrdefer: boolean;
  readonly op: (fail: boolean) => () => Promise<void>;
}

const IMPLS: readonly Impl[] = [
  { name: "hand-written (try/catch + flag)", short: "hand", isErrdefer: false, op: handWrittenOp },
  {
    name: 'errdefer tx.acquire(.., { on: "error" })',
    short: "acquire",
    isErrdefer: true,
    op: (fail) => errdeferOp(errdeferAcquireBody(fail)),
  },
  {
    name: "errdefer await acquire(); tx.errdefer()",
    short: "errdefer",
    isErrdefer: true,
    op: (fail) => errdeferOp(errdeferRegisterBody(fail)),
  },
  ...(baseline === undefined
    ? []
    : [
        {
          name: "baseline tx.acquire",
          short: "base-acquire",
          isErrdefer: true,
          op: (fail: boolean) => errdeferOp(errdeferAcquireBody(fail), baseline),
        },
        {
          name: "baseline tx.errdefer",
          short: "base-errdefer",
          isErrdefer: true,
          op: (fail: boolean) => errdeferOp(errdeferRegisterBody(fail), baseline),
        },
      ]),
  {
    name: "AsyncDisposableStack (polyfill 1.1.8)",
    short: "ads",
    isErrdefer: false,
    op: (fail) => disposableStackOp(AsyncDisposableStackPolyfill, fail),
  },
  ...(AsyncDisposableStackNative === undefined
    ? []
    : [
        {
          name: `AsyncDisposableStack (native, Node ${process.versions.node})`,
          short: "ads-native",
          isErrdefer: false,
          op: (fail: boolean) => disposableStackOp(AsyncDisposableStackNative, fail),
        },
      ]),
  { name: "Effect.scoped + acquireRelease", short: "effect", isErrdefer: false, op: effectOp },
];

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`bench/engine: ${what}`);
}

function verifier(name: string, path: Path): (ops: number) => void {
  return (ops) => {
    const where = `${name}, ${path} path, ${ops} ops`;
    check(acquired === ops * ACQUISITIONS, `${where}: acquired ${acquired}`);
    if (path === "success") {
      check(released === 0, `${where}: released ${released} on success`);
      check(handedOut === ops * ACQUISITIONS, `${where}: handed out ${handedOut}`);
      check(failuresSeen === 0, `${where}: ${failuresSeen} failures`);
    } else {
      check(released === ops * ACQUISITIONS, `${where}: released ${released}`);
      check(releasedIdSum === ops * ID_SUM, `${where}: wrong resources released`);
      check(failuresSeen === ops, `${where}: ${failuresSeen} failures reported as the body's`);
      check(handedOut === 0, `${where}: handed out ${handedOut} on failure`);
    }
  };
}

/** One run of every implementation on both paths, checking the release order too. */
async function checkOnce(): Promise<void> {
  const reversed = Array.from({ length: ACQUISITIONS }, (_, i) => ACQUISITIONS - 1 - i).join(",");
  for (const impl of IMPLS) {
    for (const path of PATHS) {
      resetCounters();
      releaseOrder = [];
      await impl.op(path === "failure")();
      const order = releaseOrder.join(",");
      releaseOrder = undefined;
      verifier(impl.name, path)(1);
      check(path === "success" || order === reversed, `${impl.name}: release order ${order}`);
    }
  }
}

// --- memory ------------------------------------------------------------------------------------

async function memory(): Promise<number | undefined> {
  console.log(`\nMemory: ${formatInt(MEMORY_TRANSACTIONS)} sequential transactions`);
  console.log(
    "(tx.acquire and tx.errdefer forms alternating; every 10th fails at the end; target: heapUsed within 5%)",
  );
  if (!gcAvailable) {
    console.log(
      "  NOT MEASURED: global.gc is not available; run with `node --expose-gc --import tsx bench/index.ts engine`",
    );
    return undefined;
  }
  const ops = [
    errdeferOp(errdeferAcquireBody(false)),
    errdeferOp(errdeferRegisterBody(false)),
    errdeferOp(errdeferAcquireBody(true)),
    errdeferOp(errdeferRegisterBody(true)),
  ];
  const pick = (i: number): (() => Promise<void>) => ops[(i % 10 === 9 ? 2 : 0) + (i & 1)]!;
  // Warm up first so the JIT's code and one-time allocations are in the "before" figure.
  for (let i = 0; i < 20_000; i++) await pick(i)();
  resetCounters();
  gc();
  const before = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  for (let i = 0; i < MEMORY_TRANSACTIONS; i++) await pick(i)();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const failures = MEMORY_TRANSACTIONS / 10;
  check(acquired === MEMORY_TRANSACTIONS * ACQUISITIONS, `memory run: acquired ${acquired}`);
  check(released === failures * ACQUISITIONS, `memory run: released ${released}`);
  check(failuresSeen === failures, `memory run: ${failuresSeen} failures`);
  gc();
  const after = process.memoryUsage().heapUsed;
  const pct = ((after - before) / before) * 100;
  const mb = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;
  console.log(
    formatTable(
      ["heapUsed after forced GC", "bytes", "MiB"],
      [
        ["before", formatInt(before), mb(before)],
        ["after", formatInt(after), mb(after)],
      ],
    ),
  );
  const verdict = Math.abs(pct) <= MEMORY_TARGET_PCT ? "PASS" : "MISS";
  console.log(
    `change: ${pct >= 0 ? "+" : ""}${pct.toFixed(2)}% (${after - before >= 0 ? "+" : ""}${formatInt(after - before)} bytes)  ` +
      `target within ${MEMORY_TARGET_PCT}%: ${verdict}   (${seconds.toFixed(1)} s, ${formatDuration(seconds / MEMORY_TRANSACTIONS)}/transaction)`,
  );
  return pct;
}

// --- the table ---------------------------------------------------------------------------------

/** The summary `npm run bench -- engine --json` prints: ratios to hand-written in this run. */
export interface EngineSummary {
  readonly successRatio: number;
  readonly failureRatio: number;
  readonly acquireSuccessRatio: number;
  readonly acquireFailureRatio: number;
  readonly handSuccessUs: number;
  readonly handFailureUs: number;
  readonly rounds: number;
  readonly memoryChangePct: number | null;
  /** What the ratios are made of: each floor's ratio to hand-written (success path), by name. */
  readonly floors: Readonly<Record<string, number>>;
  /** With ERRDEFER_BENCH_BASELINE: the same four ratios of the baseline engine, same rounds. */
  readonly baseline?: {
    readonly successRatio: number;
    readonly failureRatio: number;
    readonly acquireSuccessRatio: number;
    readonly acquireFailureRatio: number;
  };
}

export async function run(): Promise<EngineSummary> {
  console.log(
    `Engine: a transaction with ${ACQUISITIONS} acquisitions (async acquire, sync release), ` +
      `success path and failure at the end`,
  );
  // `npm run bench` runs tsc's output, as users run it: tsx's esbuild transform (keepNames) would
  // add an Object.defineProperty per closure created in a hot function.
  console.log(
    `Node ${process.version}; compiled JavaScript; timed in process CPU time; ` +
      `forced GC: ${gcAvailable ? "before the warm-up (not between rounds: it shrinks the young generation and slows allocation-heavy cases)" : "NO (run node with --expose-gc)"}`,
  );
  if (AsyncDisposableStackNative === undefined) {
    console.log(
      `Native AsyncDisposableStack: skipped (Node ${process.version} has none; Node 24 has it), the polyfill row stays`,
    );
  }
  await checkOnce();

  const rounds = 11;
  const cases: Case[] = [];
  for (const impl of IMPLS) {
    for (const path of PATHS) {
      const op = impl.op(path === "failure");
      cases.push({
        name: `${impl.short}/${path}`,
        op,
        before: resetCounters,
        verify: verifier(impl.name, path),
      });
    }
  }
  // CPU time: on the shared VM the wall clock of a 1 us op is mostly waiting for a core.
  const results = await compare(cases, { rounds, batchMs: 120, warmupMs: 300, clock: "cpu" });
  const byName = new Map<string, CaseResult>(results.map((r) => [r.name, r]));
  const get = (impl: Impl, path: Path): CaseResult => byName.get(`${impl.short}/${path}`)!;

  const hand = IMPLS[0]!;
  // Cost ratio to hand-written per round (same round = measured side by side), median over rounds.
  const ratio = (impl: Impl, path: Path): number => {
    return medianRatio(get(impl, path).secondsPerOp, get(hand, path).secondsPerOp);
  };
  const peers = IMPLS.filter((i) => !i.isErrdefer && i !== hand);
  const verdict = (impl: Impl, path: Path): string => {
    if (!impl.isErrdefer) return "";
    const r = ratio(impl, path);
    const beatsPeers = peers.every((p) => r < ratio(p, path));
    return r <= (impl.short === "acquire" ? ACQUIRE_TARGET_RATIO : TARGET_RATIO) && beatsPeers
      ? "PASS"
      : `MISS${beatsPeers ? "" : " (peers)"}`;
  };
  const rows = IMPLS.map((impl) => {
    const cells = [impl.name];
    for (const path of PATHS) {
      const res = get(impl, path);
      cells.push(
        formatInt(res.medianOpsPerSecond),
        formatDuration(res.medianSecondsPerOp),
        `${ratio(impl, path).toFixed(2)}x`,
        verdict(impl, path),
      );
    }
    return cells;
  });
  console.log(
    `\nMedian of ${rounds} interleaved rounds (CPU time); ratio = cost / hand-written cost in the same round ` +
      `(median over rounds). Target for errdefer: <= ${TARGET_RATIO}x on both paths (tx.acquire ` +
      `<= ${ACQUIRE_TARGET_RATIO}x) and cheaper than ` +
      `AsyncDisposableStack and Effect.\n`,
  );
  console.log(
    formatTable(
      ["implementation", "success ops/s", "per op", "ratio", "target", "failure ops/s", "per op", "ratio", "target"],
      rows,
    ),
  );

  console.log("\nRaw: us per op in each round (batch size in brackets)");
  console.log(
    formatTable(
      ["case", "batch", ...Array.from({ length: rounds }, (_, i) => `r${i + 1}`)],
      results.map((r) => [r.name, formatInt(r.opsPerBatch), ...r.secondsPerOp.map((s) => (s * 1e6).toFixed(2))]),
    ),
  );

  const floors = await engineFloors();
  const memoryChangePct = await memory();
  const byShort = (short: string): Impl => IMPLS.find((i) => i.short === short)!;
  return {
    successRatio: ratio(byShort("errdefer"), "success"),
    failureRatio: ratio(byShort("errdefer"), "failure"),
    acquireSuccessRatio: ratio(byShort("acquire"), "success"),
    acquireFailureRatio: ratio(byShort("acquire"), "failure"),
    handSuccessUs: get(hand, "success").medianSecondsPerOp * 1e6,
    handFailureUs: get(hand, "failure").medianSecondsPerOp * 1e6,
    rounds,
    memoryChangePct: memoryChangePct ?? null,
    floors,
    ...(baseline === undefined
      ? {}
      : {
          baseline: {
            successRatio: ratio(byShort("base-errdefer"), "success"),
            failureRatio: ratio(byShort("base-errdefer"), "failure"),
            acquireSuccessRatio: ratio(byShort("base-acquire"), "success"),
            acquireFailureRatio: ratio(byShort("base-acquire"), "failure"),
          },
        }),
  };
}
