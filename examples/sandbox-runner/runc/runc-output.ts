// What runc said. With `--log-format json` runc writes one JSON object per line (to stderr, or to
// the `--log` file), the error last; anything else (a Go panic, a shell's "not found") is taken
// as plain text. And what `runc state` and `runc list` print on stdout.

export type ContainerStatus = "creating" | "created" | "running" | "paused" | "stopped";
const STATUSES: readonly string[] = ["creating", "created", "running", "paused", "stopped"];

export interface ContainerState {
  readonly status: ContainerStatus;
  /** The container's init (pause) process on the host; 0 once stopped. */
  readonly pid: number;
  readonly bundle: string;
}

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

/** The state `runc state` printed, or why it is not one. */
export function parseState(stdout: string): ContainerState | string {
  let s: { status?: unknown; pid?: unknown; bundle?: unknown };
  try {
    s = JSON.parse(stdout) as typeof s;
  } catch {
    return "runc state printed no JSON";
  }
  if (typeof s.status !== "string" || !STATUSES.includes(s.status))
    return `runc state printed an unknown status ${JSON.stringify(s.status)}`;
  return {
    status: s.status as ContainerStatus,
    pid: typeof s.pid === "number" ? s.pid : 0,
    bundle: typeof s.bundle === "string" ? s.bundle : "",
  };
}

/** The container ids `runc list --format json` printed, or why they are not. */
export function parseList(stdout: string): string[] | string {
  let entries: unknown;
  try {
    entries = JSON.parse(stdout.trim() === "" ? "null" : stdout);
  } catch {
    return "runc list printed no JSON";
  }
  // An empty root prints `null`.
  if (entries === null) return [];
  if (!Array.isArray(entries)) return "runc list printed no JSON array";
  return entries.flatMap((e: { id?: unknown }) => (typeof e?.id === "string" ? [e.id] : []));
}
