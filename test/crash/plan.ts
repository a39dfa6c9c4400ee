// What the crash test's parent and child share: the run's config, the fake adapter and its log
// (one JSON line per event, appended and fsynced, so it survives the SIGKILL that follows), and
// the model of the hook points a run passes, in order.
import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { err, ok } from "neverthrow";
import type { ResourceAdapter } from "../../src/index.js";

export type FailAt = "none" | "fakeB" | "finish";
export type FailRelease = "none" | "fakeA" | "fakeB";

export interface CrashConfig {
  readonly runId: string;
  /** The run prefix every namespace name starts with. */
  readonly prefix: string;
  readonly customDir: string;
  readonly journalDir: string;
  readonly log: string;
  readonly groupCommit: boolean;
  /** Whether the guarded custom-dir namespace step runs (`when`). */
  readonly withB: boolean;
  /** Which step fails: fakeB's acquire (after half-making it: registerFirst), or the last step. */
  readonly failAt: FailAt;
  /** Which fake release fails in the child (never in the parent). */
  readonly failRelease: FailRelease;
  /** After a commit, release what was handed over (releaseHeld, journalled) in the child. */
  readonly stop: boolean;
  /** The hook point to die at, or "none". */
  readonly kill: string;
}

export type LogEvent = { readonly ev: string; readonly id?: string; readonly pid?: number; readonly at?: string };

export function appendLog(file: string, event: LogEvent): void {
  const fd = openSync(file, "a", 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ ...event, pid: process.pid })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function readLog(file: string): LogEvent[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as LogEvent);
}

/** Creates the log empty (so both processes append to an existing file). */
export function createLog(file: string): void {
  appendFileSync(file, "", { mode: 0o600 });
}

export interface FakeHooks {
  readonly hit?: (point: string) => void;
  /** This step's acquire fails after half-making the resource. */
  readonly failAcquire?: string | undefined;
  /** This step's release fails without releasing. */
  readonly failRelease?: string | undefined;
}

/** A resource that is a line in the log: `acquire` makes it, `release` ends it (idempotent). */
export function fakeAdapter(
  log: string,
  hooks: FakeHooks = {},
): ResourceAdapter<{ id: string }, { id: string }, { id: string }> {
  const stepOf = (id: string) => id.slice(id.lastIndexOf(":") + 1);
  return {
    kind: "fake",
    plan: (spec) => ({ id: spec.id }),
    acquire: (plan) => {
      const step = stepOf(plan.id);
      hooks.hit?.(`acquire-before:${step}`);
      appendLog(log, { ev: "acquire", id: plan.id });
      hooks.hit?.(`acquire-after:${step}`);
      if (hooks.failAcquire === step) return err(new Error(`injected acquire failure of ${plan.id}`));
      return ok({ id: plan.id });
    },
    describe: (r) => ({ id: r.id }),
    release: (desc) => {
      const step = stepOf(desc.id);
      hooks.hit?.(`release-before:${step}`);
      if (hooks.failRelease === step) return err(new Error(`injected release failure of ${desc.id}`));
      appendLog(log, { ev: "release", id: desc.id });
      hooks.hit?.(`release-after:${step}`);
      return ok(undefined);
    },
  };
}

export const resourceSteps = (config: Pick<CrashConfig, "withB">): string[] =>
  config.withB ? ["nsA", "fakeA", "nsB", "fakeB"] : ["nsA", "fakeA", "fakeB"];
const guarded = new Set(["nsB", "fakeB"]);
const isNetns = (step: string) => step.startsWith("ns");

/** Every hook point a run with this config passes, in order (the child checks the model: it must die where told). */
export function hookPoints(
  config: Omit<CrashConfig, "kill" | "runId" | "prefix" | "customDir" | "journalDir" | "log">,
): string[] {
  const points: string[] = [];
  const record = (label: string) => points.push(`before:${label}`, `write:${label}`, `after:${label}`);
  const steps = resourceSteps(config);
  record("main/begin");
  const acquired: string[] = [];
  let failed = config.failAt === "finish";
  for (const step of steps) {
    record(`main/intent:${step}`);
    points.push(`acquire-before:${step}`);
    if (isNetns(step)) points.push(`acquire-cmd:${step}`);
    points.push(`acquire-after:${step}`);
    if (config.failAt === step) {
      failed = true;
      break;
    }
    acquired.push(step);
    record(`main/acquired:${step}`);
  }
  const unwind = (role: string, registered: readonly string[]) => {
    let broken = false;
    const retained: string[] = [];
    for (const step of [...registered].reverse()) {
      if (guarded.has(step) && broken) {
        retained.push(step);
        continue;
      }
      points.push(`release-before:${step}`);
      if (config.failRelease === step) {
        broken = true;
        record(`${role}/release-failed:${step}`);
        continue;
      }
      if (isNetns(step)) points.push(`release-cmd:${step}`);
      points.push(`release-after:${step}`);
      record(`${role}/released:${step}`);
    }
    for (const step of retained) record(`${role}/retained:${step}`);
    record(`${role}/end`);
  };
  if (failed) {
    // fakeB registers its release before acquiring (registerFirst), so it is released even when its acquire failed.
    unwind("main", config.failAt === "fakeB" ? steps : acquired);
    return points;
  }
  record("main/commit");
  if (!config.stop) return points;
  record("stop/begin");
  // releaseHeld adopts every held resource in one record (issue 11 item 3).
  record("stop/adopt");
  unwind("stop", steps);
  return points;
}
