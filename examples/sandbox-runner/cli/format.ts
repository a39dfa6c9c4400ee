// What the commands print on stdout, as text for people; `--json` prints the objects themselves.
// Each function returns lines: the CLI escapes every line it prints (cli/escape.ts), a newline too.
import { describeError } from "errdefer";
import type { GcReport, Quarantined, RunnerRecoveryReport } from "../runner/index.js";
import { terminalSafe } from "./escape.js";
import type { SandboxRecord } from "../store.js";

/** Columns padded to their widest cell, two spaces apart; cells escaped first, so that columns line up as shown. */
export function table(raw: readonly (readonly string[])[]): string[] {
  const rows = raw.map((r) => r.map(terminalSafe));
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join("  ")
      .trimEnd(),
  );
}

/** `ls`: one row per sandbox, ids cut to 13 characters (like docker). */
export function sandboxTable(records: readonly SandboxRecord[]): string[] {
  return table([
    ["SANDBOX ID", "NAME", "NAMESPACE", "STATE", "IP", "NETNS", "CREATED"],
    ...records.map((r) => [
      r.id.slice(0, 13),
      r.name,
      r.namespace,
      r.state,
      r.ip ?? "-",
      r.netnsPath ?? "(host)",
      r.createdAt,
    ]),
  ]);
}

/** `recover`: the counts, then each failed, retained or quarantined release, skipped record and journal issue. */
export function recoveryText(r: RunnerRecoveryReport): string[] {
  const counts = `${r.released.length} released, ${r.failed.length} failed, ${r.retained.length} retained`;
  return [
    `recovered ${r.transactions} transaction(s): ${counts}${r.quarantined.length > 0 ? `, ${r.quarantined.length} quarantined` : ""}`,
    ...r.failed.map((f) => `  failed   ${f.step} (${f.saga}): ${describeError(f.error)}`),
    ...r.retained.map((k) => `  retained ${k.step} (${k.saga})`),
    ...quarantineText(r.quarantined),
    ...r.skipped.map((s) => `  skipped  record ${s}`),
    ...r.issues.map((i) => `  ${i.type} ${i.source}:${i.line}: ${i.message}`),
  ];
}

/** Each refused entry set aside: where it went, and why it was refused. */
export function quarantineText(quarantined: readonly Quarantined[]): string[] {
  return quarantined.map((q) => `  quarantined ${q.kind} -> ${q.file}: ${q.reason}`);
}

/** `recover --json`: the report, errors as their messages. */
export function recoveryJson(r: RunnerRecoveryReport): string {
  return JSON.stringify(r, (_k, v: unknown) => (v instanceof Error ? v.message : v));
}

/** `gc`: what was (or would be) removed, by kind, then what failed. */
export function gcText(r: GcReport): string[] {
  const verb = r.dryRun ? "would remove" : "removed";
  const kinds = {
    netns: r.netns,
    allocations: r.allocations,
    containers: r.containers,
    bundles: r.bundles,
    names: r.names,
  };
  return [
    ...Object.entries(kinds).map(
      ([what, list]) => `${verb} ${list.length} ${what}${list.length > 0 ? `: ${list.join(", ")}` : ""}`,
    ),
    ...r.failed.map((f) => `failed: ${f}`),
  ];
}
