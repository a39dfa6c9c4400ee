// What a saga's compensation sees: the cleanup's context, without clearRetErr (R11).
import type { CleanupContext } from "../engine/types.js";

/**
 * A saga hands over only when all of its steps succeeded (R11). Clearing retErr after a failed
 * step, or after a rollback began, would return Ok for a run that holds nothing, or hand over
 * what was already released; so a compensation's clearRetErr throws (its cleanup then fails, R4).
 */
export function compensationContext(ctx: CleanupContext): CleanupContext {
  return {
    get retErr() {
      return ctx.retErr;
    },
    get failed() {
      return ctx.failed;
    },
    setRetErr: (error: unknown) => ctx.setRetErr(error),
    clearRetErr: () => {
      throw new TypeError(
        `ctx.clearRetErr: a saga's compensation ("${ctx.label}") cannot clear retErr: ` +
          `a saga returns Ok only when every step succeeded (R11)`,
      );
    },
    get signal() {
      return ctx.signal;
    },
    label: ctx.label,
    get cleanupFailures() {
      return ctx.cleanupFailures;
    },
  };
}
