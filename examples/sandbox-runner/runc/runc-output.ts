// What runc said. With `--log-format json` runc writes one JSON object per line (to stderr, or to
// the `--log` file), the error last; anything else (a Go panic, a shell's "not found") is taken
// as plain text.

interface LogLine {
  readonly level?: unknown;
  readonly msg?: unknown;
}

/** runc's error message from its output, without the "runc create failed: " preamble. */
export function runcMessage(output: string): string | undefined {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  for (const line of lines.toReversed()) {
    let entry: LogLine;
    try {
      entry = JSON.parse(line) as LogLine;
    } catch {
      continue;
    }
    if ((entry.level === "error" || entry.level === "fatal") && typeof entry.msg === "string")
      return entry.msg.replace(/^runc \w+ failed: /, "");
  }
  return lines.findLast((l) => !l.startsWith("{"));
}

/** runc's words for "no container by that id under this root". */
export const doesNotExist = (message: string | undefined): boolean =>
  message !== undefined && /container does not exist/.test(message);

/** runc's words when a signal is sent to a container whose process has exited. */
export const notRunning = (message: string | undefined): boolean =>
  message !== undefined && /container not running/.test(message);
