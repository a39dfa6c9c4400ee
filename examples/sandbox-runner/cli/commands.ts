// The commands, one table: name, arguments, usage text and handler. USAGE, the arity check and the
// dispatch all read it; each handler does one thing and returns its failure for main to report.
import { err, ok, type Result } from "neverthrow";
import {
  details,
  holdsRefusal,
  OperationFailedError,
  STEPS,
  summary,
  type Quarantined,
  type Runner,
  type SandboxReader,
} from "../runner/index.js";
import { UsageError, type CliError } from "./exit-codes.js";
import { interruptible, stoppedBy } from "./interrupt.js";
import { gcText, quarantineText, recoveryJson, recoveryText, table } from "./format.js";
import { eachId, idsToRelease } from "./ids.js";
import { ignoredNetworkFlags } from "./network-flags.js";
import type { CommandOption, Flags } from "./options.js";
import { outputFormat, podsOutput, statusOutput, structured } from "./output.js";
import { readPodConfig } from "./pod-input.js";
import { versionResponse } from "./version-output.js";

/** What a handler gets. */
export interface CommandInput {
  readonly args: readonly string[];
  readonly flags: Flags;
  readonly json: boolean;
  /** A line on stdout. */
  readonly out: (line: string) => void;
  /** A line on stderr. */
  readonly warn: (line: string) => void;
  /** Opens the runner (the state dir is created and locked), runs `use`, closes it. */
  readonly withRunner: <T>(use: (runner: Runner) => Promise<T>) => Promise<T>;
  /** The records, read without the lock and without creating anything (ls, inspect). */
  readonly reader: () => Promise<SandboxReader>;
}

export type Outcome = Result<void, CliError>;

export interface Command {
  readonly name: string;
  /** crictl's names for it (`runp`, `pods`, ...), accepted as the name is. */
  readonly aliases?: readonly string[];
  /**
   * Placeholders of its positional arguments, each required; a last one ending in `...` takes one
   * or more (`ID...`), or any number in brackets (`[ID...]`, the handler decides).
   */
  readonly args: readonly string[];
  /** Options only this command takes. */
  readonly options?: readonly CommandOption[];
  readonly usage: string;
  readonly run: (input: CommandInput) => Promise<Outcome>;
}

const done = ok(undefined);

export const COMMANDS: readonly Command[] = [
  {
    name: "run",
    aliases: ["runp"],
    args: ["POD_CONFIG"],
    options: ["output"],
    usage: "create a pod sandbox (CRI PodSandboxConfig, JSON or YAML; - reads stdin); prints its id",
    run: async ({ args, flags, json, out, warn, withRunner }) => {
      const format = outputFormat(flags);
      if (format.isErr()) return err(format.error);
      // Validated before anything is touched: a bad config creates nothing, not even the state dir.
      const config = await readPodConfig(args[0]!);
      if (config.isErr()) return err(config.error);
      // Ctrl-C / SIGTERM abort the run: it rolls back, and the CLI exits 130 / 143 (cli/interrupt.ts).
      const { value: ran, interrupted } = await interruptible(warn, (signal) =>
        withRunner(async (runner) => {
          // A network that cannot be loaded is the run's own failure, reported by it.
          const network = config.value.hostNetwork ? undefined : await runner.network();
          if (network?.isOk() === true) for (const line of ignoredNetworkFlags(flags, network.value)) warn(line);
          return runner.run(config.value, { signal });
        }),
      );
      if (ran.isErr()) return err(stoppedBy(interrupted, ran.error));
      // As crictl runp: the id alone, so that `id=$(... run pod.json)` works; details with -o.
      const r = ran.value;
      const lines = json ? [JSON.stringify(summary(r))] : format.value ? await statusOutput(r, format.value) : [r.id];
      for (const line of lines) out(line);
      return done;
    },
  },
  {
    name: "stop",
    aliases: ["stopp"],
    args: ["ID..."],
    usage: "stop each: kill the pause process, CNI DEL, remove the netns (unknown id: ok)",
    run: async ({ args, json, out, warn, withRunner }) => {
      const ids = idsToRelease("stop", args, false);
      if (ids.isErr()) return err(ids.error);
      return withRunner(async (runner) =>
        eachId(
          await ids.value(runner),
          (id) => runner.stop(id),
          warn,
          (id) => (json ? out(JSON.stringify({ id, ok: true })) : undefined),
        ),
      );
    },
  },
  {
    name: "rm",
    aliases: ["rmp"],
    args: ["[ID...]"],
    options: ["force", "quarantine", "all"],
    usage: "remove each (-a: every sandbox): stop, then the container, bundle, record and name (unknown id: ok)",
    run: async ({ args, flags, json, out, warn, withRunner }) => {
      const ids = idsToRelease("rm", args, flags.all === true);
      if (ids.isErr()) return err(ids.error);
      const quarantined: Quarantined[] = [];
      const quarantine =
        flags.quarantine === true ? { quarantine: { source: "record" as const, into: quarantined } } : {};
      const call = { ...quarantine, force: flags.force === true };
      let refused = false;
      const removed = await withRunner(async (runner) =>
        eachId(
          await ids.value(runner),
          async (id) => {
            const r = await runner.remove(id, call);
            if (r.isErr() && holdsRefusal(r.error)) refused = true;
            return r;
          },
          warn,
          (id) =>
            json
              ? out(JSON.stringify({ id, ok: true, ...(quarantined.length > 0 ? { quarantined } : {}) }))
              : undefined,
        ),
      );
      for (const line of quarantineText(quarantined)) warn(line);
      if (refused) warn(REFUSED_HINT("rm --quarantine ID"));
      return removed;
    },
  },
  {
    name: "ls",
    aliases: ["pods"],
    args: [],
    options: ["output"],
    usage: "list sandboxes (-q: ids only); reads the records without the lock, never waits",
    run: async ({ flags, json, out, warn, reader }) => {
      const format = outputFormat(flags);
      if (format.isErr()) return err(format.error);
      const problems: string[] = [];
      const records = await (await reader()).list(problems);
      for (const p of problems) warn(`sandbox-runner: unreadable record ${p}`);
      // -q: the ids, as crictl pods -q (--json, which the other commands take with -q, keeps its JSON).
      const lines = json
        ? [JSON.stringify(records.map(summary))]
        : flags.quiet === true
          ? records.map((r) => r.id)
          : await podsOutput(records, format.value ?? "table");
      for (const line of lines) out(line);
      return done;
    },
  },
  {
    name: "inspect",
    aliases: ["inspectp"],
    args: ["ID"],
    options: ["output"],
    usage: "one sandbox, its resources and its step log (no lock either)",
    run: async ({ args, flags, json, out, reader }) => {
      const format = outputFormat(flags);
      if (format.isErr()) return err(format.error);
      const record = await (await reader()).inspect(args[0]!);
      if (record.isErr()) return err(record.error);
      // Pretty-printed JSON breaks lines only between tokens (a newline in a string is `\n`).
      const lines =
        format.value === undefined || json
          ? JSON.stringify(details(record.value), null, json ? undefined : 2).split("\n")
          : await statusOutput(record.value, format.value);
      for (const line of lines) out(line);
      return done;
    },
  },
  {
    name: "version",
    args: [],
    options: ["output"],
    usage: "the runtime's name and version, as crictl version prints them",
    run: async ({ flags, json, out }) => {
      const format = outputFormat(flags);
      if (format.isErr()) return err(format.error);
      const v = versionResponse();
      const lines =
        json || format.value === "json" || format.value === "yaml"
          ? await structured(v, format.value === "yaml" ? "yaml" : "json")
          : Object.entries(v).map(([k, value]) => `${k[0]!.toUpperCase()}${k.slice(1)}:  ${value}`);
      for (const line of lines) out(line);
      return done;
    },
  },
  {
    name: "recover",
    args: [],
    options: ["quarantine"],
    usage: "after a crash: roll back killed runs, reconcile the store",
    run: async ({ flags, json, out, warn, withRunner }) => {
      const quarantine = { source: "journal" as const, into: [] };
      const call = flags.quarantine === true ? { quarantine } : {};
      const report = await withRunner((runner) => runner.recover(call));
      if (report.isErr())
        return err(new OperationFailedError("recover", report.error.message, { cause: report.error }));
      const r = report.value;
      for (const line of json ? [recoveryJson(r)] : recoveryText(r)) out(line);
      if (r.failed.some((f) => holdsRefusal(f.error))) warn(REFUSED_HINT("recover --quarantine"));
      const left = r.failed.length + r.retained.length;
      return left === 0 ? done : err(incomplete("recover", `${left} release(s) failed or were retained`));
    },
  },
  {
    name: "gc",
    args: [],
    options: ["dry-run"],
    usage: "remove namespaces, IPs, containers, bundles and names no sandbox owns",
    run: async ({ flags, json, out, withRunner }) => {
      const report = await withRunner((runner) => runner.gc({ dryRun: flags["dry-run"] === true }));
      if (report.isErr()) return err(report.error);
      const r = report.value;
      for (const line of json ? [JSON.stringify(r)] : gcText(r)) out(line);
      return r.failed.length === 0 ? done : err(incomplete("collect garbage", `${r.failed.length} removal(s) failed`));
    },
  },
  {
    name: "serve",
    args: [],
    options: ["listen", "grace-period"],
    usage: "serve CRI's RuntimeService on a unix socket until SIGTERM / SIGINT (holds the state dir)",
    // Imported when used: grpc-js would otherwise load on every start of the CLI.
    run: async (input) => (await import("../cri/command.js")).serveCommand(input),
  },
  {
    name: "steps",
    args: [],
    usage: "the step graph: each step, what it runs after, its cleanup (what --failpoint can target)",
    run: async ({ json, out }) => {
      const rows = STEPS.map(({ step, after, cleanup, does }) => ({ step, after, cleanup, does }));
      if (json) out(JSON.stringify(rows));
      else
        table([
          ["STEP", "AFTER", "CLEANUP", "WHAT IT DOES"],
          ...rows.map((s) => [s.step, s.after.join(",") || "-", s.cleanup ?? "-", s.does]),
        ]).forEach((l) => out(l));
      return done;
    },
  },
];

/** What to do about a refused entry: it is not ours, or the flags are not the ones it was made with. */
const REFUSED_HINT = (command: string) =>
  `(a refused entry names what is not this runner's: run with the flags it was made with ` +
  `(--state-dir, --netns-dir, --prefix, --cni-bin-dir), or, if it is not ours, \`${command}\` sets it aside)`;

/** A command that did its work but not all of it (the report above says what is left). */
function incomplete(action: string, what: string): OperationFailedError {
  return new OperationFailedError(action, `${what} (see the report)`, { cause: undefined });
}

/** The command `positionals` names, with its arguments; a wrong name or count is a usage error. */
export function findCommand(
  positionals: readonly string[],
  flags: Flags,
): Result<{ command: Command; args: readonly string[] }, UsageError> {
  const [name, ...args] = positionals;
  if (name === undefined) return err(new UsageError("a command is required"));
  const command = COMMANDS.find((c) => c.name === name || (c.aliases ?? []).includes(name));
  if (command === undefined) return err(new UsageError(`unknown command ${JSON.stringify(name)}`));
  const arity = arityOf(command.args);
  if (args.length < arity.min || args.length > arity.max) {
    const takes =
      arity.max === Infinity
        ? "one or more arguments"
        : (["no arguments", "one argument"][arity.max] ?? `${arity.max} arguments`);
    return err(new UsageError(`${name} takes ${takes}`));
  }
  for (const option of new Set(COMMANDS.flatMap((c) => c.options ?? []))) {
    if (flags[option] !== undefined && !(command.options ?? []).includes(option)) {
      const takers = COMMANDS.filter((c) => (c.options ?? []).includes(option)).map((c) => c.name);
      return err(new UsageError(`--${option} applies to ${takers.join(", ")} only`));
    }
  }
  return ok({ command, args });
}

/** How many arguments placeholders take: `ID...` one or more, `[ID...]` any number. */
function arityOf(placeholders: readonly string[]): { readonly min: number; readonly max: number } {
  const last = placeholders.at(-1);
  if (last === undefined || !/\.\.\.\]?$/.test(last)) return { min: placeholders.length, max: placeholders.length };
  return { min: placeholders.length - (last.startsWith("[") ? 1 : 0), max: Infinity };
}
