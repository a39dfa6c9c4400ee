// The CLI's main: parse the command line, find the command in the table, resolve the runner's
// config once, run the handler, and turn its failure into one exit code (cli/exit-codes.ts).
import { parseArgs } from "node:util";
import { err, ok, type Result } from "neverthrow";
import { describeError } from "errdefer";
import { OperationFailedError, Runner, SandboxReader, type RunnerConfig } from "../runner/index.js";
import { COMMANDS, findCommand, type Command } from "./commands.js";
import { debugTrace } from "./debug.js";
import { lineWriter } from "./escape.js";
import { reportFailure, UsageError, type CliError } from "./exit-codes.js";
import {
  COMMAND_OPTIONS,
  optionLabel,
  OPTIONS,
  parseArgsOptions,
  runnerConfig,
  type Flags,
  type OptionRow,
} from "./options.js";
import { versionLine } from "./version-output.js";

// Every line printed is escaped (cli/escape.ts): no input reaches the terminal raw.
const out = lineWriter(process.stdout);
const warn = lineWriter(process.stderr);

/** Runs the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const outcome = await dispatch(argv);
    return outcome.isOk() ? 0 : reportFailure(outcome.error, warn);
  } catch (e) {
    return reportFailure(e, warn);
  }
}

async function dispatch(argv: readonly string[]): Promise<Result<void, CliError>> {
  const parsed = parse(argv);
  if (parsed.isErr()) return err(parsed.error);
  const { flags, positionals } = parsed.value;
  if (flags.help === true) {
    for (const line of usage().split("\n")) out(line);
    return ok(undefined);
  }
  if (flags.version === true) {
    out(versionLine());
    return ok(undefined);
  }
  const found = findCommand(positionals, flags);
  if (found.isErr()) return err(found.error);
  // Before the config: the runners it makes are traced from their start.
  const ended = flags.debug === true ? debugTrace(warn, found.value.command.name) : undefined;
  const config = runnerConfig(flags);
  if (config.isErr()) return err(config.error);
  const root = config.value.layout.root;
  try {
    const ran = await runCommand(found.value.command, found.value.args, flags, config.value);
    return ran.mapErr((e) => diskFull(e, root) ?? e);
  } catch (e) {
    throw diskFull(e, root) ?? e;
  } finally {
    ended?.();
  }
}

async function runCommand(
  command: Command,
  args: readonly string[],
  flags: Flags,
  config: RunnerConfig,
): Promise<Result<void, CliError>> {
  return command.run({
    args,
    flags,
    json: flags.json === true,
    out,
    warn,
    withRunner: async (use) => {
      const runner = await Runner.openResolved(config);
      try {
        return await use(runner);
      } finally {
        await runner.close();
      }
    },
    reader: () => SandboxReader.open(config.layout),
  });
}

function parse(argv: readonly string[]): Result<{ flags: Flags; positionals: string[] }, UsageError> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: parseArgsOptions(),
    });
    return ok({ flags: values, positionals });
  } catch (e) {
    return err(new UsageError(describeError(e)));
  }
}

/** An option as a synopsis shows it: `-o json|yaml|table`, `--force`. */
function shortLabel(name: string, o: OptionRow): string {
  return `${o.short === undefined ? `--${name}` : `-${o.short}`}${o.value === undefined ? "" : ` ${o.value}`}`;
}

/** USAGE, from the command table and the option table. */
export function usage(): string {
  const column = (left: string, right: string) => (right === "" ? `  ${left}` : `  ${left.padEnd(20)}  ${right}`);
  const synopsis = (c: Command) =>
    [c.name, ...c.args, ...(c.options ?? []).map((o) => `[${shortLabel(o, COMMAND_OPTIONS[o])}]`)].join(" ");
  return [
    "usage: sandbox-runner [options] <command> [args]",
    "",
    "commands:",
    ...COMMANDS.map((c) => column(synopsis(c), `${c.usage}${c.aliases ? ` (crictl: ${c.aliases.join(", ")})` : ""}`)),
    "",
    "options:",
    ...Object.entries(OPTIONS).map(([name, o]) => column(optionLabel(name, o), o.help)),
    "",
    "command options:",
    ...Object.entries(COMMAND_OPTIONS).map(([name, o]) => column(optionLabel(name, o), o.help)),
  ].join("\n");
}

/**
 * An ENOSPC among the causes of `error` (or its failed cleanups): said as what it is, the state
 * dir's disk being full, naming the dir (a write's ENOSPC names no path).
 */
function diskFull(error: unknown, root: string): OperationFailedError | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const e = queue.shift();
    if (typeof e !== "object" || e === null || seen.has(e)) continue;
    seen.add(e);
    if ((e as { code?: unknown }).code === "ENOSPC") {
      const detail = `the disk of the state dir ${root} is full (ENOSPC): ${describeError(error)}`;
      return new OperationFailedError("write to the state dir", detail, { cause: error });
    }
    const failures = (e as { cleanupFailures?: unknown }).cleanupFailures;
    queue.push(
      (e as { cause?: unknown }).cause,
      ...(Array.isArray(failures) ? failures.map((f) => (f as { error?: unknown }).error) : []),
    );
  }
  return undefined;
}
