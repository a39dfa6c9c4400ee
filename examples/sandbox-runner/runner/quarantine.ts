// Refused entries, set aside on request. A journal or record entry that names something outside
// this runner's own dirs and names is refused (ForeignPathError) and fails every recover or rm
// that meets it: rightly, when the runner was started with other flags than the run that wrote it.
// When the operator says it is not ours (`recover --quarantine`, `rm --quarantine`), its release
// instead moves it to <state-dir>/quarantine/, with the reason, and counts as done: nothing it
// names is touched, and later runs are clean.
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Err, err, ok, type Result } from "neverthrow";
import type { AnyResourceAdapter, ResourceContext } from "errdefer";
import { writeAtomic } from "errdefer/host";
import { ForeignPathError } from "../resources.js";

/** An entry set aside: its file under the quarantine dir, what it was, and why it was refused. */
export interface Quarantined {
  readonly file: string;
  readonly kind: string;
  readonly reason: string;
  /** The description as it was released (the very object: recover tells it from real releases). */
  readonly description: unknown;
}

/** Whether `error` is a refusal: a description naming something that is not this runner's. */
export function isRefusal(error: unknown): error is ForeignPathError {
  return error instanceof ForeignPathError;
}

/** Whether a failure (a TransactionError, an OperationFailedError around one) holds a refusal. */
export function holdsRefusal(error: unknown): boolean {
  const e = error as { cause?: unknown; cleanupFailures?: readonly { error: unknown }[] } | undefined;
  if (isRefusal(error)) return true;
  if (e?.cleanupFailures?.some((f) => isRefusal(f.error)) === true) return true;
  return e?.cause !== undefined && e.cause !== error && holdsRefusal(e.cause);
}

/** Writes the entry to `<dir>/<time>-<random>.json` (0600, whole or not at all); resolves to its path. */
async function setAside(dir: string, entry: Omit<Quarantined, "file">, source: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const at = new Date().toISOString();
  const file = path.join(dir, `${at.replaceAll(":", "")}-${randomBytes(4).toString("hex")}.json`);
  const { kind, reason, description } = entry;
  await writeAtomic(file, `${JSON.stringify({ at, source, kind, reason, description }, null, 2)}\n`, {
    exclusive: true,
    mode: 0o600,
  });
  return file;
}

/**
 * `adapters` whose release sets a refused description aside in `dir` (and pushes it to `into`)
 * instead of failing; `source` (`journal`, `record`) is written with it.
 */
export function quarantining<A extends Record<string, AnyResourceAdapter>>(
  adapters: A,
  dir: string,
  source: string,
  into: Quarantined[],
): A {
  const wrap = (adapter: AnyResourceAdapter): AnyResourceAdapter => ({
    ...adapter,
    release: async (description: unknown, ctx: ResourceContext): Promise<Result<unknown, unknown>> => {
      let error: unknown;
      try {
        const released = await adapter.release(description, ctx);
        if (!(released instanceof Err)) return ok(released);
        error = released.error;
      } catch (e) {
        error = e;
      }
      if (!isRefusal(error)) return err(error);
      // One call may meet an entry twice (rm recovers the sandbox's journal, then releases its record).
      if (into.some((q) => q.kind === adapter.kind && sameJson(q.description, description))) return ok(undefined);
      const entry = { kind: adapter.kind, reason: error.message, description };
      into.push({ ...entry, file: await setAside(dir, entry, source) });
      return ok(undefined);
    },
  });
  return Object.fromEntries(Object.entries(adapters).map(([k, a]) => [k, wrap(a)])) as A;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
