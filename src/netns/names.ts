// Validation of namespace names, directories and prefixes, before any command runs.
import { randomBytes } from "node:crypto";
import path from "node:path";

/** Where `ip netns` keeps its namespaces; the default `dir`. */
export const defaultDir = "/var/run/netns";

/** Directories `ip netns` itself manages (/var/run is /run on current distributions). */
const ipDirs = new Set(["/var/run/netns", "/run/netns"]);

/** Whether `dir` is the directory `ip netns add/del/exec` work in. */
export function isIpDir(dir: string): boolean {
  return ipDirs.has(dir);
}

const nameChars = /^[A-Za-z0-9_.-]+$/;

/** Why `name` is not a valid namespace name, or undefined when it is. */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return "must be a string";
  if (name.length === 0) return "must not be empty";
  if (name.length > 64) return `must be at most 64 characters (got ${name.length})`;
  if (name.includes("/")) return 'must not contain "/"';
  if (name === "." || name === "..") return `must not be "${name}"`;
  if (!nameChars.test(name)) return "may only contain A-Z a-z 0-9 _ . -";
  return undefined;
}

/** Why `prefix` is not a usable name prefix, or undefined when it is. */
export function prefixProblem(prefix: unknown, required: boolean): string | undefined {
  if (typeof prefix !== "string") return "must be a string";
  if (prefix.length === 0) {
    return required ? "must not be empty (sweep only removes namespaces it can tell are its own)" : undefined;
  }
  if (prefix.length > 64) return `must be at most 64 characters (got ${prefix.length})`;
  if (!nameChars.test(prefix)) return "may only contain A-Z a-z 0-9 _ . -";
  return undefined;
}

/** Why `dir` is not usable, or undefined; relative paths are refused so no command sees one. */
export function dirProblem(dir: unknown): string | undefined {
  if (typeof dir !== "string") return "must be a string";
  if (dir.length === 0) return "must not be empty";
  if (dir.includes("\0")) return "must not contain a NUL byte";
  if (!path.isAbsolute(dir)) return "must be an absolute path";
  if (path.resolve(dir) === "/") return 'must not be "/"';
  return undefined;
}

/** A `dir` in canonical form (no trailing slash, no `.`/`..` segments). */
export function normalizeDir(dir: string): string {
  return path.resolve(dir);
}

/** `cni-` + 16 random bytes as 8-4-4-4-12 hex, the name containerd gives a pod's namespace. */
export function generateName(): string {
  const hex = randomBytes(16).toString("hex");
  return `cni-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
