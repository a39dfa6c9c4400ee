// Ctrl-C and SIGTERM during `run`: the first aborts the run, whose saga then rolls back what it
// made, and the CLI exits 130 / 143 (128 + the signal's number, as a shell reports a process the
// signal killed); a second exits at once, leaving the rollback to `recover` (the journal has the run).
import { InterruptedError, type CliError, type Interruption } from "./exit-codes.js";

const EXIT: Readonly<Record<Interruption, number>> = { SIGINT: 130, SIGTERM: 143 };
const KEY: Readonly<Record<Interruption, string>> = { SIGINT: "Ctrl-C", SIGTERM: "SIGTERM" };

/**
 * Runs `body` with a signal that SIGINT or SIGTERM aborts (with an InterruptedError as its reason),
 * and says which one came first, if any. A second one exits the process at once.
 */
export async function interruptible<T>(
  warn: (line: string) => void,
  body: (signal: AbortSignal) => Promise<T>,
): Promise<{ readonly value: T; readonly interrupted: Interruption | undefined }> {
  const controller = new AbortController();
  let first: Interruption | undefined;
  const handlers = (Object.keys(EXIT) as Interruption[]).map((name) => {
    const handler = (): void => {
      if (first !== undefined) {
        warn(`sandbox-runner: ${name} again: exiting now; \`sandbox-runner recover\` rolls back what the run made`);
        // stderr is a pipe or a terminal: written synchronously on Linux, so the line is out before exit.
        process.exit(EXIT[name]);
      }
      first = name;
      warn(
        `sandbox-runner: ${name}: stopping the run and rolling back what it made ` +
          `(${KEY[name]} again exits at once, leaving the rest to \`recover\`)`,
      );
      controller.abort(new InterruptedError(name));
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  try {
    const value = await body(controller.signal);
    return { value, interrupted: first };
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}

/** A run's failure: said as the signal that stopped it (exit 130 / 143), the rollback's outcome as its cause. */
export function stoppedBy(interrupted: Interruption | undefined, error: CliError): CliError {
  return interrupted === undefined ? error : new InterruptedError(interrupted, { cause: error });
}
