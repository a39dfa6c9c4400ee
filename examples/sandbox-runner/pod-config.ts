// The CRI PodSandboxConfig (as crictl's JSON pod config files write it), validated before anything
// is created: a wrong type or a bad name is a ConfigError naming the field and the reason.
import { isIP } from "node:net";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";

export interface PodConfig {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly attempt: number;
  };
  readonly hostname: string | undefined;
  readonly logDirectory: string | undefined;
  readonly dnsConfig:
    | { readonly servers: readonly string[]; readonly searches: readonly string[]; readonly options: readonly string[] }
    | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** NODE (host network): no netns, no CNI. */
  readonly hostNetwork: boolean;
}

export interface ConfigProblem {
  readonly field: string;
  readonly reason: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(`invalid pod config: ${problems.map((p) => `${p.field}: ${p.reason}`).join("; ")}`);
  }
}

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

/**
 * A value quoted for a message: JSON (which escapes C0 controls and lone surrogates), cut short,
 * with DEL, C1 controls and line separators escaped too, so no input reaches a terminal raw.
 */
function quote(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  const points = [...json];
  const text = points.length > 100 ? `${points.slice(0, 100).join("")}...` : json;
  return text.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
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

/** Parses and validates a pod config (already JSON-parsed). Unknown fields are ignored. */
export function parsePodConfig(raw: unknown): Result<PodConfig, ConfigError> {
  const problems: ConfigProblem[] = [];
  const problem = (field: string, reason: string | undefined): void => {
    if (reason !== undefined) problems.push({ field, reason });
  };
  if (!isObject(raw))
    return err(new ConfigError([{ field: "(root)", reason: `must be a JSON object, got ${kind(raw)}` }]));

  const md = raw.metadata;
  let name = "";
  let namespace = "";
  let uid = "";
  let attempt = 0;
  if (!isObject(md)) {
    problem("metadata", md === undefined ? "is required" : `must be an object, got ${kind(md)}`);
  } else {
    problem("metadata.name", md.name === undefined ? "is required" : dnsLabelProblem(md.name));
    problem("metadata.namespace", md.namespace === undefined ? "is required" : dnsLabelProblem(md.namespace));
    if (typeof md.name === "string") name = md.name;
    if (typeof md.namespace === "string") namespace = md.namespace;
    if (md.uid !== undefined) {
      problem("metadata.uid", textProblem(md.uid, 128));
      if (typeof md.uid === "string") uid = md.uid;
    }
    if (md.attempt !== undefined) {
      if (
        typeof md.attempt !== "number" ||
        !Number.isInteger(md.attempt) ||
        md.attempt < 0 ||
        md.attempt > 0xffffffff
      ) {
        problem("metadata.attempt", "must be an integer from 0 to 4294967295");
      } else attempt = md.attempt;
    }
  }

  let hostname: string | undefined;
  if (raw.hostname !== undefined && raw.hostname !== "") {
    const h = raw.hostname;
    const reason =
      typeof h !== "string"
        ? `must be a string, got ${kind(h)}`
        : h.length > 63
          ? `must be at most 63 characters (got ${h.length})`
          : h.split(".").every((part) => dnsLabel.test(part))
            ? undefined
            : "must be a DNS name: lowercase letters, digits, '-' and '.'";
    problem("hostname", reason);
    if (reason === undefined) hostname = h as string;
  }

  let logDirectory: string | undefined;
  if (raw.log_directory !== undefined && raw.log_directory !== "") {
    const d = raw.log_directory;
    const reason =
      textProblem(d) ??
      (!path.isAbsolute(d as string)
        ? "must be an absolute path"
        : (d as string).split("/").includes("..")
          ? "must not contain '..' segments"
          : undefined);
    problem("log_directory", reason);
    if (reason === undefined) logDirectory = d as string;
  }

  let dnsConfig: PodConfig["dnsConfig"];
  if (raw.dns_config !== undefined && raw.dns_config !== null) {
    const dc = raw.dns_config;
    if (!isObject(dc)) problem("dns_config", `must be an object, got ${kind(dc)}`);
    else {
      const list = (field: string, check: (v: unknown) => string | undefined): string[] => {
        const value = dc[field];
        if (value === undefined || value === null) return [];
        if (!Array.isArray(value)) {
          problem(`dns_config.${field}`, `must be an array, got ${kind(value)}`);
          return [];
        }
        if (value.length > 64) problem(`dns_config.${field}`, `must have at most 64 entries (got ${value.length})`);
        value.forEach((v, i) => problem(`dns_config.${field}[${i}]`, check(v)));
        return value.filter((v): v is string => typeof v === "string");
      };
      dnsConfig = {
        servers: list(
          "servers",
          (v) => textProblem(v, 64) ?? (isIP(v as string) === 0 ? "must be an IP address" : undefined),
        ),
        searches: list("searches", (v) => textProblem(v, 253)),
        options: list("options", (v) => textProblem(v, 253)),
      };
    }
  }

  const stringMap = (field: "labels" | "annotations"): Record<string, string> => {
    const value = raw[field];
    if (value === undefined || value === null) return {};
    if (!isObject(value)) {
      problem(field, `must be an object of strings, got ${kind(value)}`);
      return {};
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      const reason = textProblem(k, 316) ?? textProblem(v, 65536);
      problem(`${field}[${quote(k.slice(0, 64))}]`, reason);
      if (reason === undefined) out[k] = v as string;
    }
    return out;
  };
  const labels = stringMap("labels");
  const annotations = stringMap("annotations");

  let hostNetwork = false;
  const linux = raw.linux;
  if (linux !== undefined && linux !== null) {
    const network =
      isObject(linux) && isObject(linux.security_context) && isObject(linux.security_context.namespace_options)
        ? linux.security_context.namespace_options.network
        : undefined;
    if (!isObject(linux)) problem("linux", `must be an object, got ${kind(linux)}`);
    else if (linux.security_context !== undefined && !isObject(linux.security_context)) {
      problem("linux.security_context", `must be an object, got ${kind(linux.security_context)}`);
    } else if (
      isObject(linux.security_context) &&
      linux.security_context.namespace_options !== undefined &&
      !isObject(linux.security_context.namespace_options)
    ) {
      problem(
        "linux.security_context.namespace_options",
        `must be an object, got ${kind(linux.security_context.namespace_options)}`,
      );
    } else if (network !== undefined) {
      if (network === "POD" || network === 0) hostNetwork = false;
      else if (network === "NODE" || network === 2) hostNetwork = true;
      else
        problem(
          "linux.security_context.namespace_options.network",
          `must be "POD" (0) or "NODE" (2), got ${quote(network)}`,
        );
    }
  }

  if (problems.length > 0) return err(new ConfigError(problems));
  return ok({
    metadata: { name, namespace, uid, attempt },
    hostname,
    logDirectory,
    dnsConfig,
    labels,
    annotations,
    hostNetwork,
  });
}
