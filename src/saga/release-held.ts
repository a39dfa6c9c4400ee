// releaseHeld(): releases what a saga handed over, in reverse order, under the same rules
// (guards included), journalled so that a crash half-way is finished by recover().
import { randomUUID } from "node:crypto";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import { TransactionError } from "../engine/errors.js";
import type { Journal } from "../journal/journal.js";
import { JOURNAL_FORMAT_VERSION } from "../journal/records.js";
import { adapterMap, type AnyResourceAdapter } from "../resources/adapter.js";
import { releaseResource } from "../resources/release.js";
import { transaction } from "../engine/transaction.js";
import type { TransactionOptions } from "../engine/types.js";
import type { Held } from "./types.js";

export interface ReleaseHeldOptions extends Omit<TransactionOptions, "name"> {
  readonly journal?: Journal;
}

/**
 * Releases `held` (StopPodSandbox). A failing release does not stop the others; a guarded one
 * after a failure is retained and reported, and stays journalled for a later retry.
 */
export function releaseHeld(
  held: Held,
  adapters: readonly AnyResourceAdapter[] | ReadonlyMap<string, AnyResourceAdapter>,
  options: ReleaseHeldOptions = {},
): ResultAsync<void, TransactionError> {
  const byKind = adapterMap(adapters);
  const { journal, ...txOptions } = options;
  const tx = randomUUID();
  const v = JOURNAL_FORMAT_VERSION;
  const adopt = async (j: Journal): Promise<void> => {
    // Adopt the resources into a journal transaction first, durably: a crash from here on is recovered.
    await j.append({ v, tx, t: "begin", name: `release:${held.saga}`, at: Date.now() }, false);
    const last = held.resources.length - 1;
    for (const [i, r] of held.resources.entries()) {
      await j.append(
        { v, tx, t: "intent", step: r.step, kind: r.kind, guard: r.guard, desc: r.description },
        i === last,
      );
    }
  };
  const run = async (): Promise<Result<void, TransactionError>> => {
    if (journal !== undefined) {
      try {
        await adopt(journal);
      } catch (error) {
        // Not journalled, so not released: the caller still owns everything and can retry.
        return err(new TransactionError({ cause: error, origin: "throw" }));
      }
    }
    const result = await transaction(
      (t) => {
        for (const r of held.resources) {
          const target = { adapter: byKind.get(r.kind), kind: r.kind, step: r.step, tx, journal };
          t.defer((ctx) => releaseResource(target, r.description, ctx), { label: r.step, guard: r.guard });
        }
        return ok(undefined);
      },
      { ...txOptions, name: `release:${held.saga}` },
    );
    if (journal !== undefined) {
      for (const kept of result.isErr() ? result.error.retained : []) {
        await journal.append({ v, tx, t: "retained", step: kept.label }, false).catch(() => undefined);
      }
      // After a full release the end need not be durable: losing it only means releasing again.
      await journal.append({ v, tx, t: "end" }, result.isErr()).catch(() => undefined);
    }
    return result;
  };
  return new ResultAsync(run());
}
