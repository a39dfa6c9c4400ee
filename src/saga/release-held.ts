// releaseHeld(): releases what a saga handed over, in reverse dependency order (R12), under the same rules
// (guards included), journalled so that a crash half-way is finished by recover().
import { randomUUID } from "node:crypto";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import { TransactionError } from "../engine/errors.js";
import { transaction } from "../engine/transaction.js";
import type { CleanupContext, TransactionOptions } from "../engine/types.js";
import type { Journal } from "../journal/journal.js";
import { adapterMap, type AnyResourceAdapter } from "../resources/adapter.js";
import { deferGraph, edgesOfListed } from "./graph.js";
import { JournalWriter, type JournalWriteError } from "./journal-writer.js";
import { releaseRecorded } from "./release-recorded.js";
import type { Held } from "./types.js";

/** How `releaseHeld` releases a `Held`: the transaction options, and the journal to record in. */
export interface ReleaseHeldOptions extends Omit<TransactionOptions, "name"> {
  readonly journal?: Journal;
}

/** What a releaseHeld that released everything returns. */
export interface ReleaseHeldSuccess {
  /**
   * Journal records that could not be written after the releases they record (none without a
   * journal). Everything was released all the same; the journal may still name some of it, and a
   * later `recover` releases it again (releases are idempotent).
   */
  readonly journalFailures: readonly JournalWriteError[];
}

/**
 * Releases `held` (StopPodSandbox). A failing release does not stop the others; a guarded one
 * after a failure is retained and reported, and stays journalled for a later retry.
 */
export function releaseHeld(
  held: Held,
  adapters: readonly AnyResourceAdapter[] | ReadonlyMap<string, AnyResourceAdapter>,
  options: ReleaseHeldOptions = {},
): ResultAsync<ReleaseHeldSuccess, TransactionError> {
  const byKind = adapterMap(adapters);
  const { journal, ...txOptions } = options;
  const writer = new JournalWriter(journal, randomUUID());
  const name = `release:${held.saga}`;
  const run = async (): Promise<Result<ReleaseHeldSuccess, TransactionError>> => {
    // Adopt the resources into a journal transaction first, durably: a crash from here on is recovered.
    try {
      await writer.adopt(name, held.resources);
    } catch (error) {
      // Not journalled, so not released: the caller still owns everything and can retry.
      return err(new TransactionError({ cause: error, origin: "throw" }));
    }
    const result = await transaction(
      (t) => {
        // R12: each release waits for those of the resources built on it (a chain: reverse order).
        const undos = held.resources.map((r) => {
          const target = { adapter: byKind.get(r.kind), kind: r.kind };
          const fn = (ctx: CleanupContext) => releaseRecorded(writer, r.step, target, r.description, ctx);
          return { fn, options: { label: r.step, guard: r.guard } };
        });
        deferGraph(t, edgesOfListed(held.resources), undos);
        return ok({ journalFailures: writer.failures });
      },
      { ...txOptions, name },
    );
    return writer.finish(result);
  };
  return new ResultAsync(run());
}
