// The CRI PodSandboxConfig (as crictl's JSON pod config files write it), validated before anything
// is created: a wrong type, a bad name or a field the runner does not implement is a ConfigError
// naming the field and the reason.
import { err, ok, type Result } from "neverthrow";
import { reportUnsupported } from "./pod-config-unsupported.js";
import { ConfigError, quote, type ConfigProblem } from "./runner/errors.js";

export interface PodConfig {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly attempt: number;
  };
  readonly hostname: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** NODE (host network): no netns, no CNI. */
  readonly hostNetwork: boolean;
}

export { ConfigError, type ConfigProblem };

/** Records a problem with `field`, when there is one (`reason` undefined: none). */
type Report = (field: string, reason: string | undefined) => void;

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_TEXT = 4096;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Why `value` is not a usable short text (no NUL or control characters, bounded), or undefined. */
function textProblem(value: unknown, max = MAX_TEXT): string | undefined {
  if (typeof value !== "string") return `must be a string, got ${kind(value)}`;
  if (value.length > max) return `must be at most ${max} characters (got ${value.length})`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return "must not contain control characters (NUL, newline, ...)";
  return undefined;
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

function dnsLabelProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return `must be a string, got ${kind(value)}`;
  if (value.length === 0) return "must not be empty";
  if (value.length > 63) return `must be a DNS label of at most 63 characters (got ${value.length})`;
  if (!dnsLabel.test(value))
    return "must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit";
  return undefined;
}

/**
 * Parses and validates a pod config (already JSON-parsed). A CRI field the runner does not
 * implement is refused unless empty (pod-config-unsupported.ts); fields CRI does not have are ignored.
 */
export function parsePodConfig(raw: unknown): Result<PodConfig, ConfigError> {
  if (!isObject(raw))
    return err(new ConfigError([{ field: "(root)", reason: `must be a JSON object, got ${kind(raw)}` }]));
  const problems: ConfigProblem[] = [];
  const report: Report = (field, reason) => {
    if (reason !== undefined) problems.push({ field, reason });
  };
  const config: PodConfig = {
    metadata: parseMetadata(raw.metadata, report),
    hostname: parseHostname(raw.hostname, report),
    labels: parseStringMap(raw.labels, "labels", report),
    annotations: parseStringMap(raw.annotations, "annotations", report),
    hostNetwork: parseHostNetwork(raw.linux, report),
  };
  reportUnsupported(raw, report);
  return problems.length > 0 ? err(new ConfigError(problems)) : ok(config);
}

function parseMetadata(md: unknown, report: Report): PodConfig["metadata"] {
  const metadata = { name: "", namespace: "", uid: "", attempt: 0 };
  if (!isObject(md)) {
    report("metadata", md === undefined ? "is required" : `must be an object, got ${kind(md)}`);
    return metadata;
  }
  report("metadata.name", md.name === undefined ? "is required" : dnsLabelProblem(md.name));
  report("metadata.namespace", md.namespace === undefined ? "is required" : dnsLabelProblem(md.namespace));
  if (typeof md.name === "string") metadata.name = md.name;
  if (typeof md.namespace === "string") metadata.namespace = md.namespace;
  if (md.uid !== undefined) {
    report("metadata.uid", textProblem(md.uid, 128));
    if (typeof md.uid === "string") metadata.uid = md.uid;
  }
  if (md.attempt !== undefined) {
    const { attempt } = md;
    if (typeof attempt !== "number" || !Number.isInteger(attempt) || attempt < 0 || attempt > 0xffffffff) {
      report("metadata.attempt", "must be an integer from 0 to 4294967295");
    } else metadata.attempt = attempt;
  }
  return metadata;
}

function parseHostname(h: unknown, report: Report): string | undefined {
  if (h === undefined || h === "") return undefined;
  const reason =
    typeof h !== "string"
      ? `must be a string, got ${kind(h)}`
      : h.length > 63
        ? `must be at most 63 characters (got ${h.length})`
        : h.split(".").every((part) => dnsLabel.test(part))
          ? undefined
          : "must be a DNS name: lowercase letters, digits, '-' and '.'";
  report("hostname", reason);
  return reason === undefined ? (h as string) : undefined;
}

function parseStringMap(value: unknown, field: "labels" | "annotations", report: Report): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) {
    report(field, `must be an object of strings, got ${kind(value)}`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    const reason = textProblem(k, 316) ?? textProblem(v, 65536);
    report(`${field}[${quote(k.slice(0, 64))}]`, reason);
    if (reason === undefined) out[k] = v as string;
  }
  return out;
}

/** `linux.security_context.namespace_options.network`: POD (0) or NODE (2, host network). */
function parseHostNetwork(linux: unknown, report: Report): boolean {
  if (linux === undefined || linux === null) return false;
  if (!isObject(linux)) {
    report("linux", `must be an object, got ${kind(linux)}`);
    return false;
  }
  const sc = linux.security_context;
  if (sc === undefined) return false;
  if (!isObject(sc)) {
    report("linux.security_context", `must be an object, got ${kind(sc)}`);
    return false;
  }
  const ns = sc.namespace_options;
  if (ns === undefined) return false;
  if (!isObject(ns)) {
    report("linux.security_context.namespace_options", `must be an object, got ${kind(ns)}`);
    return false;
  }
  const network = ns.network;
  if (network === undefined || network === "POD" || network === 0) return false;
  if (network === "NODE" || network === 2) return true;
  report("linux.security_context.namespace_options.network", `must be "POD" (0) or "NODE" (2), got ${quote(network)}`);
  return false;
}
