// A release as the saga layer runs it (rollback, releaseHeld, recover): through the adapter, then
// recorded by the run's journal writer.
import type { Result } from "neverthrow";
import type { CleanupContext } from "../engine/types.js";
import type { JsonValue } from "../internal/json.js";
import { releaseResource, type ReleaseTarget } from "../resources/release.js";
import type { JournalWriter } from "./journal-writer.js";

/** Releases `desc` within the cleanup's deadline and records `released` or `release-failed` for `step`. */
export async function releaseRecorded(
  writer: JournalWriter,
  step: string,
  target: ReleaseTarget,
  desc: JsonValue,
  cleanup: CleanupContext,
): Promise<Result<void, unknown>> {
  const released = await releaseResource(target, desc, cleanup.signal);
  await (released.isOk() ? writer.released(step) : writer.releaseFailed(step, released.error));
  return released;
}
