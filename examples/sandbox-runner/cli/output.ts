// `-o json|yaml|table`: what `run`, `ls` (`pods`), `inspect` (`inspectp`) and `version` print as
// crictl prints it, so that jq scripts written for crictl work. The shapes are CRI's messages from
// cri/shapes.ts, the one mapping (the CRI server answers with the same); YAML is the same object.
// cri/shapes.ts (protobuf) and yaml are loaded only when asked for: most invocations need neither,
// and every invocation pays for what it loads at startup (`npm run bench -- startup`).
import { err, ok, type Result } from "neverthrow";
import type { SandboxRecord } from "../store.js";
import { UsageError } from "./exit-codes.js";
import { sandboxTable, table } from "./format.js";
import type { Flags } from "./options.js";

const FORMATS = ["json", "yaml", "table"] as const;
export type OutputFormat = (typeof FORMATS)[number];

/** The `-o` asked for (undefined: the command's own default), or a usage error naming the choices. */
export function outputFormat(flags: Flags): Result<OutputFormat | undefined, UsageError> {
  const o = flags.output;
  if (o === undefined) return ok(undefined);
  if (typeof o === "string" && (FORMATS as readonly string[]).includes(o)) return ok(o as OutputFormat);
  return err(new UsageError(`-o must be one of ${FORMATS.join(", ")}, not ${JSON.stringify(o)}`));
}

/** An object as crictl prints it: JSON indented by 2 (Go's MarshalIndent), or YAML; one line at a time. */
export async function structured(value: unknown, format: "json" | "yaml"): Promise<string[]> {
  // yaml is CommonJS: its exports are the default export (under node and in the bundle alike).
  const text = format === "json" ? JSON.stringify(value, null, 2) : (await import("yaml")).default.stringify(value);
  return text.replace(/\n$/, "").split("\n");
}

/** `ls -o`: ListPodSandboxResponse (`{"items": [...]}`), or the table. */
export async function podsOutput(records: readonly SandboxRecord[], format: OutputFormat): Promise<string[]> {
  if (format === "table") return sandboxTable(records);
  const { podsJson } = await import("../cri/shapes.js");
  return structured(podsJson(records), format);
}

/** `inspect -o` and `run -o`: `{"status": ..., "info": ...}` as `crictl inspectp`, or a table of it. */
export async function statusOutput(record: SandboxRecord, format: OutputFormat): Promise<string[]> {
  if (format === "table") return statusTable(record);
  const { inspectpJson } = await import("../cri/shapes.js");
  return structured(inspectpJson(record), format);
}

/** `inspect -o table`: the fields crictl's table shows, one per row. */
function statusTable(r: SandboxRecord): string[] {
  const pairs = (m: Readonly<Record<string, string>>) => Object.entries(m).map(([k, v]) => `${k}=${v}`);
  return table([
    ["ID:", r.id],
    ["Name:", r.name],
    ["UID:", r.uid],
    ["Namespace:", r.namespace],
    ["Attempt:", String(r.attempt)],
    ["Status:", r.state === "READY" ? "SANDBOX_READY" : "SANDBOX_NOTREADY"],
    ["Created:", r.createdAt],
    ["IP Address:", r.ip ?? "-"],
    ["Netns:", r.netnsPath ?? "(host network)"],
    ...pairs(r.labels).map((l, i) => [i === 0 ? "Labels:" : "", l]),
    ...pairs(r.annotations).map((a, i) => [i === 0 ? "Annotations:" : "", a]),
  ]);
}
