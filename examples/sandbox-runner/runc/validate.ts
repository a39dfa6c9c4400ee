// Input checks shared by the bundle writer and the runc wrapper. Each returns the problem as a
// sentence naming the field, or undefined when the value is fine.
import path from "node:path";

/** containerd's and runc's own rule for container ids (runc rejects the rest, less clearly). */
export const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function containerIdProblem(id: unknown): string | undefined {
  if (typeof id !== "string") return "the container id must be a string";
  return CONTAINER_ID.test(id) ? undefined : `invalid container id: it must match ${CONTAINER_ID.source}`;
}

// RFC 1123 labels (letters, digits, inner hyphens; 1-63 characters) joined by dots.
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** The kernel's limit on a UTS hostname (HOST_NAME_MAX): sethostname fails beyond it. */
export const HOSTNAME_MAX = 64;

export function hostnameProblem(hostname: unknown): string | undefined {
  if (typeof hostname !== "string") return "hostname must be a string";
  const shown = JSON.stringify(hostname);
  if (hostname === "") return "hostname must not be empty";
  if (hostname.length > HOSTNAME_MAX) return `hostname ${shown} is longer than ${HOSTNAME_MAX} characters`;
  if (!hostname.split(".").every((label) => LABEL.test(label))) {
    return `hostname ${shown} is not an RFC 1123 host name (dot-separated labels of letters, digits and inner hyphens)`;
  }
  return undefined;
}

export function absolutePathProblem(field: string, value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return `${field} must be a non-empty string`;
  if (value.includes("\0")) return `${field} must not contain NUL`;
  if (!path.isAbsolute(value)) return `${field} ${JSON.stringify(value)} must be an absolute path`;
  return undefined;
}

/** A cgroups path: absolute (relative ones land under runc's own cgroup), no `..` escaping it. */
export function cgroupsPathProblem(value: unknown): string | undefined {
  const bad = absolutePathProblem("cgroupsPath", value);
  if (bad !== undefined) return bad;
  const p = value as string;
  if (p.split("/").includes("..")) return `cgroupsPath ${JSON.stringify(p)} must not contain ".."`;
  if (path.posix.normalize(p) === "/") return "cgroupsPath must not be the cgroup root";
  return undefined;
}

// Names as `runc kill` takes them (KILL, SIGTERM, RTMIN+3) or numbers; never a `-flag`.
const SIGNAL = /^(?:(?:SIG)?[A-Z][A-Z0-9+-]*|[1-9][0-9]?)$/;

export function signalProblem(signal: unknown): string | undefined {
  return typeof signal === "string" && SIGNAL.test(signal)
    ? undefined
    : `invalid signal ${JSON.stringify(signal)}: use a name such as KILL or TERM, or a number`;
}
