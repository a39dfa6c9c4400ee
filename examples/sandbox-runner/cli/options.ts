// The CLI's options, one table: it gives parseArgs its spec, USAGE its lines, and the runner its
// options (a problem the runner finds with one of them is reported under the flag's name).
import type { ParseArgsConfig } from "node:util";
import { err, ok, type Result } from "neverthrow";
import { DEFAULT_LISTEN } from "../cri/socket.js";
import { parseFailpoints } from "../failpoints.js";
import { DEFAULTS, FAILPOINT_TARGETS, resolveConfig, type RunnerConfig, type RunnerOptions } from "../runner/index.js";
import { lineWriter } from "./escape.js";
import { UsageError } from "./exit-codes.js";

/** The runner options a flag can set (each a string). */
type Field = "stateDir" | "netnsDir" | "cniConfDir" | "cniBinDir" | "cniDataDir" | "bridge" | "subnet" | "prefix";

export interface OptionRow {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  /** The value's placeholder in USAGE. */
  readonly value?: string;
  readonly help: string;
  /** The runner option the flag sets. */
  readonly field?: Field;
}

export const OPTIONS = {
  "state-dir": { type: "string", value: "DIR", help: `default ${DEFAULTS.stateDir}`, field: "stateDir" },
  "netns-dir": { type: "string", value: "DIR", help: `default ${DEFAULTS.netnsDir}`, field: "netnsDir" },
  "cni-conf-dir": {
    type: "string",
    value: "DIR",
    help: "default <state-dir>/cni/net.d (a default conflist is written there if empty)",
    field: "cniConfDir",
  },
  "cni-bin-dir": {
    type: "string",
    value: "DIR",
    help: `default ${DEFAULTS.cniBinDir}; root's, not group/world-writable, and so must each plugin be`,
    field: "cniBinDir",
  },
  "cni-data-dir": {
    type: "string",
    value: "DIR",
    help: `the default conflist's IP allocations, shared by every runner (default ${DEFAULTS.cniDataDir})`,
    field: "cniDataDir",
  },
  bridge: {
    type: "string",
    value: "NAME",
    help: `the default conflist's bridge (default ${DEFAULTS.bridge})`,
    field: "bridge",
  },
  subnet: {
    type: "string",
    value: "CIDR",
    help: `the default conflist's subnet (default ${DEFAULTS.subnet})`,
    field: "subnet",
  },
  prefix: {
    type: "string",
    value: "PREFIX",
    help: `names of namespaces and cgroups we create (default ${DEFAULTS.prefix}; 3-24 characters, not another runtime's such as cni-)`,
    field: "prefix",
  },
  failpoint: {
    type: "string",
    multiple: true,
    value: "STEP=error|delay:MS|crash",
    help: "inject a failure (repeatable; see `steps`)",
  },
  json: { type: "boolean", help: "print JSON only on stdout (progress still goes to stderr)" },
  quiet: { type: "boolean", short: "q", help: "no progress on stderr; ls: the ids only" },
  debug: {
    type: "boolean",
    help: "every command started (plugins, runc, ip), with how and in how long it ended, on stderr",
  },
  help: { type: "boolean", short: "h", help: "" },
  version: { type: "boolean", help: "print the version" },
} as const satisfies Record<string, OptionRow>;

/** Options of some commands only (`gc --dry-run`, `rm --force`, `recover`/`rm --quarantine`, `serve --listen`). */
export const COMMAND_OPTIONS = {
  "dry-run": { type: "boolean", help: "gc: only list what would be removed" },
  // crictl's: -o on run, ls, inspect, version; rm -a.
  output: {
    type: "string",
    short: "o",
    value: "json|yaml|table",
    help: "run, ls, inspect, version: print CRI's messages as crictl does (json, yaml), or a table",
  },
  all: { type: "boolean", short: "a", help: "rm: every sandbox" },
  force: {
    type: "boolean",
    help: "rm: give up on releases that keep failing (a CNI DEL whose plugin is gone); remove the rest and the record; report what was left (exit 3)",
  },
  quarantine: { type: "boolean", help: "recover, rm: set refused entries aside in <state-dir>/quarantine/" },
  listen: { type: "string", value: "unix://PATH", help: `serve: the socket (default ${DEFAULT_LISTEN})` },
  "grace-period": {
    type: "string",
    value: "SECONDS",
    help: "serve: how long calls in flight may finish after SIGTERM/SIGINT before runs roll back (default 10)",
  },
} as const satisfies Record<string, OptionRow>;

export type CommandOption = keyof typeof COMMAND_OPTIONS;

/** The spec parseArgs takes: every option, global or a command's. */
export function parseArgsOptions(): NonNullable<ParseArgsConfig["options"]> {
  const rows: [string, OptionRow][] = Object.entries({ ...OPTIONS, ...COMMAND_OPTIONS });
  return Object.fromEntries(
    rows.map(([name, o]) => [
      name,
      { type: o.type, ...(o.short === undefined ? {} : { short: o.short }), ...(o.multiple ? { multiple: true } : {}) },
    ]),
  );
}

/** A USAGE line's left column: `-q, --quiet`, `--state-dir DIR`. */
export function optionLabel(name: string, o: OptionRow): string {
  return `${o.short === undefined ? "" : `-${o.short}, `}--${name}${o.value === undefined ? "" : ` ${o.value}`}`;
}

/** The parsed flags: strings, booleans, and the repeated --failpoint. */
export type Flags = { readonly [K in keyof typeof OPTIONS | CommandOption]?: string | boolean | string[] };

/** The runner's config from the flags, resolved once; a bad value is a usage error naming its flag. */
export function runnerConfig(flags: Flags): Result<RunnerConfig, UsageError> {
  const failpoints = parseFailpoints(strings(flags.failpoint), FAILPOINT_TARGETS);
  if (failpoints.isErr()) return err(new UsageError(failpoints.error));
  const set: { -readonly [K in Field]?: string } = {};
  for (const [name, o] of Object.entries(OPTIONS) as [keyof typeof OPTIONS, OptionRow][]) {
    const value = flags[name];
    if (o.field !== undefined && typeof value === "string") set[o.field] = value;
  }
  const options: RunnerOptions = {
    ...set,
    failpoints: failpoints.value,
    write: flags.quiet === true ? () => undefined : lineWriter(process.stderr),
  };
  const config = resolveConfig(options);
  if (config.isOk()) return ok(config.value);
  const flag = (field: string) => Object.entries(OPTIONS).find(([, o]) => "field" in o && o.field === field)?.[0];
  return err(new UsageError(config.error.problems.map((p) => `--${flag(p.field) ?? p.field} ${p.reason}`).join("; ")));
}

function strings(value: Flags[keyof Flags]): string[] {
  return Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
}
