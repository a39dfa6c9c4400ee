// Progress as each step runs, with its duration (like `docker build`), and the rollback steps
// when it fails. Steps that run at once show as such: a ▸ line when each starts, a ✔ line when
// each ends. Always on stderr, so that `--json` leaves stdout to JSON alone.
import { describeError, type StepEvent, type TransactionEvent } from "errdefer";
import type { StepLogEntry } from "../store.js";
import { cleanupName } from "./steps.js";

export interface Progress {
  onStep(event: StepEvent): void;
  onEvent(event: TransactionEvent): void;
  /** The step log, for the record and `inspect`. */
  readonly log: StepLogEntry[];
}

const ms = (d: number): string => `${d < 10 ? d.toFixed(1) : Math.round(d)} ms`;

/** Reports to `write` (stderr by default; pass a no-op for quiet). */
export function progress(write: (line: string) => void, title = "rollback:"): Progress {
  const log: StepLogEntry[] = [];
  const at = () => new Date().toISOString();
  let rollbackShown = false;
  const header = (): void => {
    if (!rollbackShown) write(` ${title}`);
    rollbackShown = true;
  };
  return {
    log,
    onStep(e) {
      if (e.type === "step:started") {
        write(` ▸ ${e.step}`);
      } else if (e.type === "step:succeeded") {
        log.push({ step: e.step, status: "ok", durationMs: e.durationMs, at: at() });
        write(` ✔ ${e.step.padEnd(18)} ${ms(e.durationMs)}`);
      } else if (e.type === "step:failed") {
        log.push({ step: e.step, status: "failed", durationMs: e.durationMs, error: describeError(e.error), at: at() });
        write(` ✘ ${e.step.padEnd(18)} ${ms(e.durationMs)}  ${describeError(e.error)}`);
      } else if (e.type === "step:skipped") {
        log.push({ step: e.step, status: "skipped", at: at() });
        write(` - ${e.step.padEnd(18)} skipped`);
      }
    },
    onEvent(e) {
      if (e.type === "cleanup:started") {
        header();
        write(`   ▸ ${cleanupName(e.label)}`);
        return;
      }
      if (e.type !== "cleanup:succeeded" && e.type !== "cleanup:failed" && e.type !== "cleanup:retained") return;
      header();
      const name = cleanupName(e.label);
      if (e.type === "cleanup:succeeded") {
        log.push({ step: name, status: "released", durationMs: e.durationMs, at: at() });
        write(`   ↩ ${name.padEnd(16)} ${ms(e.durationMs)}`);
      } else if (e.type === "cleanup:failed") {
        log.push({
          step: name,
          status: "release-failed",
          durationMs: e.durationMs,
          error: describeError(e.error),
          at: at(),
        });
        write(`   ✘ ${name.padEnd(16)} ${ms(e.durationMs)}  ${describeError(e.error)}`);
      } else {
        log.push({ step: name, status: "retained", at: at() });
        write(`   ⏸ ${name.padEnd(16)} retained (an earlier cleanup failed; kept for a retry)`);
      }
    },
  };
}
