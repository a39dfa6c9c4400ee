// Which ids and host names this state dir owns. Runners with different state dirs share the netns
// dir, a bridge's host-local data dir and often the prefix, so "starts with our prefix" and "no
// record of ours names it" cannot tell our orphans from another runner's live sandboxes. Each
// state dir therefore has an identity of its own, an 8-hex-digit tag made once (`<state>/owner`),
// and every sandbox id it makes ends with it: `<24 random hex><tag>`, still 32 hex digits, so
// netns names (`<prefix><id>`), runc ids and cgroups keep their shape. The tag ends the id rather
// than starting it so that the short ids `ls` prints, and id prefixes given on the command line,
// stay unique. gc, recover and the adapters ask this module, and only this module, whether
// something is ours.
import { randomBytes } from "node:crypto";
import { lstat, readFile } from "node:fs/promises";
import { writeAtomic } from "errdefer/host";

/**
 * Name prefixes of other runtimes and network plugins that keep namespaces, cgroups, runc ids or
 * links on the same host (containerd's `cni-`, CRI-O, Docker, Kubernetes, Podman, runc, common CNI
 * plugins). A prefix of ours that starts with one of them, or that one of them starts with, could
 * name their resources: refused.
 */
export const RUNTIME_PREFIXES = [
  "cni-",
  "cri-",
  "containerd",
  "docker",
  "k8s",
  "kube",
  "crio",
  "podman",
  "libpod",
  "runc",
  "netns",
  "cali",
  "flannel",
  "weave",
  "cilium",
  "veth",
] as const;

/** Names of namespaces and cgroups: nothing that could make a path of it. */
const PREFIX = /^[A-Za-z0-9_.-]{3,24}$/;

/** Why `prefix` cannot be ours, or undefined when it can. */
export function prefixProblem(prefix: string): string | undefined {
  if (!PREFIX.test(prefix)) return "must be 3-24 characters of A-Z a-z 0-9 _ . -";
  const lower = prefix.toLowerCase();
  const clash = RUNTIME_PREFIXES.find((r) => lower.startsWith(r) || r.startsWith(lower));
  if (clash !== undefined)
    return `${JSON.stringify(prefix)} collides with ${JSON.stringify(clash)}, which another runtime's names start with`;
  return undefined;
}

const TAG = /^[0-9a-f]{8}$/;
const TAG_FILE_TEXT = /^([0-9a-f]{8})\n?$/;
const RANDOM_PART = /^[0-9a-f]{24}$/;

/** The state dir's owner file is not one we wrote: nothing is guessed, nothing is touched. */
export class OwnerFileError extends Error {
  override readonly name = "OwnerFileError";
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`the state dir's owner file ${file} ${reason}; it holds this state dir's identity (8 hex digits)`);
  }
}

/** What this state dir owns: ids ending with its tag, and namespaces `<prefix><such an id>`. */
export class Ownership {
  constructor(
    readonly tag: string,
    readonly prefix: string,
  ) {
    if (!TAG.test(tag)) throw new TypeError(`not an owner tag: ${JSON.stringify(tag)}`);
  }

  /** A new sandbox id of ours: 24 random hex digits, then the tag. */
  newSandboxId(): string {
    return `${randomBytes(12).toString("hex")}${this.tag}`;
  }

  /** Whether `id` is a sandbox id this state dir made (or could have made). */
  ownsId(id: unknown): id is string {
    return typeof id === "string" && id.length === 32 && id.endsWith(this.tag) && RANDOM_PART.test(id.slice(0, 24));
  }

  /** Whether `name` is the netns (or cgroup) name of one of our sandboxes: `<prefix><our id>`. */
  ownsNetnsName(name: unknown): name is string {
    return typeof name === "string" && name.startsWith(this.prefix) && this.ownsId(name.slice(this.prefix.length));
  }
}

/**
 * The tag of the state dir whose owner file is `file`: read, or made (random, written whole and
 * exclusively, so two runners opening a new state dir at once agree on one). A file that is not
 * a regular file holding 8 hex digits is an OwnerFileError.
 */
export async function loadOwnerTag(file: string): Promise<string> {
  const existing = await readTag(file);
  if (existing !== undefined) return existing;
  try {
    await writeAtomic(file, `${randomBytes(4).toString("hex")}\n`, { exclusive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const made = await readTag(file);
  if (made === undefined) throw new OwnerFileError(file, "vanished right after it was written");
  return made;
}

async function readTag(file: string): Promise<string | undefined> {
  const st = await lstat(file).catch((e: NodeJS.ErrnoException) =>
    e.code === "ENOENT" ? undefined : Promise.reject(e),
  );
  if (st === undefined) return undefined;
  if (!st.isFile()) throw new OwnerFileError(file, "is not a regular file");
  const text = await readFile(file, "utf8");
  // Not quoted: the file's content is not ours to print.
  const tag = TAG_FILE_TEXT.exec(text)?.[1];
  if (tag === undefined) throw new OwnerFileError(file, `is malformed (${text.length} characters, not 8 hex digits)`);
  return tag;
}
