// The sandbox store: one JSON record per sandbox, name reservations, and the state dir layout.
// Only this module touches sandbox records.
import { createHash } from "node:crypto";
import { readdir, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import type { HeldResource } from "errdefer";
import { parseJson } from "./json-text.js";
import { quote } from "./runner/errors.js";
import { ensurePrivateDir, isPrivateDirError, PrivateDirError, writeAtomic } from "errdefer/host";

export type SandboxState = "READY" | "NOTREADY";

export interface StepLogEntry {
  /** A step name (`cni-add`) or a cleanup name (`cni-del`). */
  readonly step: string;
  readonly status: "ok" | "failed" | "skipped" | "released" | "release-failed" | "retained";
  readonly durationMs?: number;
  readonly error?: string;
  readonly at: string;
}

export interface SandboxRecord {
  readonly v: 1;
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly attempt: number;
  readonly state: SandboxState;
  readonly createdAt: string;
  readonly hostNetwork: boolean;
  readonly netnsPath: string | null;
  readonly ip: string | null;
  readonly hostname: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** What the sandbox still holds, in acquisition order; stop/rm release it in reverse. */
  readonly resources: readonly HeldResource[];
  readonly steps: readonly StepLogEntry[];
  /** The last failure, when a run's rollback or a stop/rm left something behind. */
  readonly error: string | null;
}

/** The state dir layout. */
export interface StateLayout {
  readonly root: string;
  readonly sandboxes: string;
  readonly names: string;
  readonly bundles: string;
  readonly journal: string;
  readonly runcRoot: string;
  readonly rootfs: string;
  readonly lock: string;
  /** Refused journal and record entries the operator set aside (`--quarantine`). */
  readonly quarantine: string;
  /** The state dir's identity (ownership.ts). */
  readonly owner: string;
  /** Written by the CRI server while it serves the state dir (runner/served.ts). */
  readonly server: string;
}

export function stateLayout(root: string): StateLayout {
  return {
    root,
    sandboxes: path.join(root, "sandboxes"),
    names: path.join(root, "names"),
    bundles: path.join(root, "bundles"),
    journal: path.join(root, "journal"),
    runcRoot: path.join(root, "runc"),
    rootfs: path.join(root, "rootfs"),
    lock: path.join(root, "lock"),
    quarantine: path.join(root, "quarantine"),
    owner: path.join(root, "owner"),
    server: path.join(root, "cri-server.json"),
  };
}

const idPattern = /^[0-9a-f]{32}$/;

/**
 * Why a parsed record cannot be the record of `id`, or undefined. A record naming another id
 * (hand-edited, copied) would make every write of it go to another file, or to none.
 */
function recordProblem(value: unknown, id: string): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "is not a JSON object";
  const record = value as Partial<SandboxRecord>;
  if (record.id !== id) return `names sandbox ${quote(record.id)}, not the ${id} of its file name`;
  if (!Array.isArray(record.resources)) return "has no resources list";
  return undefined;
}

/** Whether `id` is a sandbox id this runner could have made (32 hex digits): never a path. */
export function isSandboxId(id: unknown): id is string {
  return typeof id === "string" && idPattern.test(id);
}

/** Creates the state dir (0700) if missing; refuses a symlinked or shared one (`state directory ...`). */
export async function ensureStateRoot(root: string): Promise<void> {
  await ensurePrivateDir(root).catch((e: unknown) =>
    Promise.reject(isPrivateDirError(e) ? new PrivateDirError(e.code, `state ${e.message}`, e.path) : e),
  );
}

/**
 * Creates the state dir (0700) and its subdirectories; refuses a symlinked or shared one, and
 * a subdirectory that is a symlink (or shared): the runner would follow it out of the state dir.
 */
export async function prepareStateDir(layout: StateLayout): Promise<void> {
  for (const dir of [layout.root, layout.sandboxes, layout.names, layout.bundles, layout.runcRoot]) {
    await ensurePrivateDir(dir).catch((e: unknown) =>
      Promise.reject(isPrivateDirError(e) ? new PrivateDirError(e.code, `state ${e.message}`, e.path) : e),
    );
  }
}

// Records and reservations are written with writeAtomic (errdefer/host): whole or not at all, and
// durable against power loss, since a READY record is what owns a sandbox's resources once the
// journal has committed. A runner killed mid-write leaves at most a temp file, `.<name>.<pid>-<8 hex>.tmp`,
// which sweepTempFiles removes once its writer is dead.

export class Store {
  constructor(readonly layout: StateLayout) {}

  #recordFile(id: string): string {
    if (!isSandboxId(id)) throw new TypeError(`not a sandbox id: ${JSON.stringify(id)}`);
    return path.join(this.layout.sandboxes, `${id}.json`);
  }

  /** Creates a record; fails if one exists. */
  async create(record: SandboxRecord): Promise<void> {
    await writeAtomic(this.#recordFile(record.id), `${JSON.stringify(record, null, 2)}\n`, { exclusive: true });
  }

  async write(record: SandboxRecord): Promise<void> {
    await writeAtomic(this.#recordFile(record.id), `${JSON.stringify(record, null, 2)}\n`);
  }

  async read(id: string): Promise<SandboxRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.#recordFile(id), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    // Its position only: a hand-edited record's text is never quoted.
    const parsed = parseJson(text);
    if (parsed.isErr()) throw new Error(`sandbox record ${id} is ${parsed.error.message}`);
    const problem = recordProblem(parsed.value, id);
    if (problem !== undefined) throw new Error(`sandbox record ${id} ${problem}: not used`);
    return parsed.value as SandboxRecord;
  }

  /** Idempotent. */
  async delete(id: string): Promise<void> {
    await unlink(this.#recordFile(id)).catch((e: NodeJS.ErrnoException) =>
      e.code === "ENOENT" ? undefined : Promise.reject(e),
    );
  }

  /** Every record, oldest first; unreadable files are skipped (and reported through `problems`). */
  async list(problems: string[] = []): Promise<SandboxRecord[]> {
    const names = await readdir(this.layout.sandboxes).catch(() => [] as string[]);
    const records: SandboxRecord[] = [];
    for (const name of names) {
      const m = /^([0-9a-f]{32})\.json$/.exec(name);
      if (m === null) continue;
      try {
        const record = await this.read(m[1]!);
        if (record !== undefined) records.push(record);
      } catch (e) {
        problems.push(`${name}: ${(e as Error).message}`);
      }
    }
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Finds a sandbox by its full id or a unique prefix of at least 4 characters (like docker). */
  async resolve(idOrPrefix: string): Promise<SandboxRecord | undefined | "ambiguous"> {
    if (isSandboxId(idOrPrefix)) return this.read(idOrPrefix);
    if (!/^[0-9a-f]{4,31}$/.test(idOrPrefix)) return undefined;
    const matches = (await this.list()).filter((r) => r.id.startsWith(idOrPrefix));
    if (matches.length > 1) return "ambiguous";
    return matches[0];
  }

  /** The reservation file of a sandbox name: a hash, so no name can address a path. */
  nameFile(key: string): string {
    return path.join(this.layout.names, `${createHash("sha256").update(key).digest("hex").slice(0, 40)}.json`);
  }

  /** Reserves `key` for `id`; resolves to the owner's id when someone else holds it. */
  async reserveName(key: string, id: string): Promise<string | undefined> {
    try {
      await writeAtomic(this.nameFile(key), JSON.stringify({ key, id }), { exclusive: true });
      return undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = await this.nameOwner(key);
      return owner ?? "(unknown)";
    }
  }

  async nameOwner(key: string): Promise<string | undefined> {
    try {
      const parsed = JSON.parse(await readFile(this.nameFile(key), "utf8")) as { id?: unknown };
      return typeof parsed.id === "string" ? parsed.id : undefined;
    } catch {
      return undefined;
    }
  }

  /** Releases `key` only if `id` holds it: a retried release never frees somebody else's name. */
  async releaseName(key: string, id: string): Promise<void> {
    const owner = await this.nameOwner(key);
    if (owner !== id) return;
    await unlink(this.nameFile(key)).catch((e: NodeJS.ErrnoException) =>
      e.code === "ENOENT" ? undefined : Promise.reject(e),
    );
  }

  /** Every reservation: (key, owner id, file). */
  async listNames(): Promise<{ key: string; id: string; file: string }[]> {
    const out: { key: string; id: string; file: string }[] = [];
    for (const name of await readdir(this.layout.names).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{40}\.json$/.test(name)) continue;
      const file = path.join(this.layout.names, name);
      try {
        const parsed = JSON.parse(await readFile(file, "utf8")) as { key?: unknown; id?: unknown };
        if (typeof parsed.key === "string" && typeof parsed.id === "string")
          out.push({ key: parsed.key, id: parsed.id, file });
      } catch {
        // A reservation torn by a crash between create and write: owned by nobody.
        out.push({ key: "", id: "", file });
      }
    }
    return out;
  }
}

/** Removes temp files left by writers that died mid-write (a SIGKILL between write and rename). */
export async function sweepTempFiles(
  dirs: readonly string[],
  isAlivePid: (pid: number) => Promise<boolean>,
): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of dirs) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const m = /\.(\d+)-[0-9a-f]{8}\.tmp$/.exec(name);
      if (m === null || (await isAlivePid(Number(m[1])))) continue;
      await unlink(path.join(dir, name)).catch(() => undefined);
      removed.push(name);
    }
  }
  return removed;
}

/** The name a sandbox reserves, as containerd makes it. */
export function sandboxKey(md: { name: string; namespace: string; uid: string; attempt: number }): string {
  return `${md.name}_${md.namespace}_${md.uid}_${md.attempt}`;
}
