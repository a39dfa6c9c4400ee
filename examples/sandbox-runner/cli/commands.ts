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
import { InterruptedError, UsageError, type CliError } from "./exit-codes.js";
import { interruptible } from "./interrupt.js";
import { gcText, quarantineText, recoveryJson, recoveryText, sandboxTable, sandboxText, table } from "./format.js";
import { ignoredNetworkFlags } from "./network-flags.js";
import type { CommandOption, Flags } from "./options.js";
import { readPodConfig } from "./pod-input.js";

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
  /** Placeholders of its positional arguments, each required. */
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
    args: ["POD_CONFIG.json"],
    usage: "create a pod sandbox (CRI PodSandboxConfig as JSON; - reads stdin)",
    run: async ({ args, flags, json, out, warn, withRunner }) => {
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
      if (ran.isErr() && interrupted !== undefined) return err(new InterruptedError(interrupted, { cause: ran.error }));
      return ran.map((r) => (json ? [JSON.stringify(summary(r))] : sandboxText(r)).forEach((line) => out(line)));
    },
  },
  {
    name: "stop",
    args: ["ID"],
    usage: "stop it: kill the pause process, CNI DEL, remove the netns (unknown id: ok)",
    run: async ({ args, json, out, withRunner }) => {
      const stopped = await withRunner((runner) => runner.stop(args[0]!));
      return stopped.map(() => (json ? out(JSON.stringify({ id: args[0], ok: true })) : undefined));
    },
  },
  {
    name: "rm",
    args: ["ID"],
    options: ["force", "quarantine"],
    usage: "remove it: stop, then the container, bundle, record and name (unknown id: ok)",
    run: async ({ args, flags, json, out, warn, withRunner }) => {
      const quarantined: Quarantined[] = [];
      const quarantine =
        flags.quarantine === true ? { quarantine: { source: "record" as const, into: quarantined } } : {};
      const call = { ...quarantine, force: flags.force === true };
      const removed = await withRunner((runner) => runner.remove(args[0]!, call));
      for (const line of quarantineText(quarantined)) warn(line);
      if (removed.isErr() && holdsRefusal(removed.error)) warn(REFUSED_HINT("rm --quarantine ID"));
      return removed.map(() =>
        json
          ? out(JSON.stringify({ id: args[0], ok: true, ...(quarantined.length > 0 ? { quarantined } : {}) }))
          : undefined,
      );
    },
  },
  {
    name: "ls",
    args: [],
    usage: "list sandboxes; reads the records without the lock, never waits",
    run: async ({ json, out, warn, reader }) => {
      const problems: string[] = [];
      const records = await (await reader()).list(problems);
      for (const p of problems) warn(`sandbox-runner: unreadable record ${p}`);
      for (const line of json ? [JSON.stringify(records.map(summary))] : sandboxTable(records)) out(line);
      return done;
    },
  },
  {
    name: "inspect",
    args: ["ID"],
    usage: "one sandbox, its resources and its step log (no lock either)",
    run: async ({ args, json, out, reader }) => {
      const record = await (await reader()).inspect(args[0]!);
      // Pretty-printed JSON breaks lines only between tokens (a newline in a string is `\n`).
      return record.map((r) =>
        JSON.stringify(details(r), null, json ? undefined : 2)
          .split("\n")
          .forEach((l) => out(l)),
      );
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
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) return err(new UsageError(`unknown command ${JSON.stringify(name)}`));
  if (args.length !== command.args.length) {
    const takes = ["no arguments", "one argument"][command.args.length] ?? `${command.args.length} arguments`;
    return err(new UsageError(`${name} takes ${takes}`));
  }
  for (const c of COMMANDS) {
    for (const option of c.options ?? []) {
      if (flags[option] !== undefined && !(command.options ?? []).includes(option))
        return err(new UsageError(`--${option} applies to ${c.name} only`));
    }
  }
  return ok({ command, args });
}
