// sandbox-runner: RunPodSandbox / StopPodSandbox / RemovePodSandbox on real network namespaces,
// CNI plugins and runc, as an errdefer pipeline. Exit codes: 0 ok, 1 the operation failed,
// 2 bad usage or a bad pod config (nothing created).
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { describeError, isTransactionError } from "errdefer";
import { parseFailpoints, type Failpoints } from "./failpoints.js";
import { parsePodConfig } from "./pod-config.js";
import { DEFAULTS, Runner, summary, type RunnerOptions } from "./runner.js";
import { cleanupName, STEPS } from "./steps.js";
import type { SandboxRecord } from "./store.js";

const USAGE = `usage: sandbox-runner [options] <command> [args]

commands:
  run POD_CONFIG.json   create a pod sandbox (CRI PodSandboxConfig as JSON; - reads stdin)
  stop ID               stop it: kill the pause process, CNI DEL, remove the netns (unknown id: ok)
  rm ID                 remove it: stop, then the container, bundle, record and name (unknown id: ok)
  ls                    list sandboxes
  inspect ID            one sandbox, its resources and its step log
  recover               after a crash: roll back killed runs, reconcile the store
  gc [--dry-run]        remove namespaces, IPs, containers, bundles and names no sandbox owns
  steps                 the steps and cleanups --failpoint can target

options:
  --state-dir DIR       default ${DEFAULTS.stateDir}
  --netns-dir DIR       default ${DEFAULTS.netnsDir}
  --cni-conf-dir DIR    default <state-dir>/cni/net.d (a default conflist is written there if empty)
  --cni-bin-dir DIR     default ${DEFAULTS.cniBinDir}
  --bridge NAME         the default conflist's bridge (default ${DEFAULTS.bridge})
  --subnet CIDR         the default conflist's subnet (default ${DEFAULTS.subnet})
  --prefix PREFIX       names of namespaces and cgroups we create (default ${DEFAULTS.prefix})
  --failpoint STEP=error|delay:MS|crash   inject a failure (repeatable; see \`steps\`)
  --json                print JSON only on stdout (progress still goes to stderr)
  -q, --quiet           no progress on stderr
  -h, --help`;

class UsageError extends Error {}

const MAX_CONFIG_BYTES = 1 << 20;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function readConfig(file: string): Promise<unknown> {
  let text: string;
  try {
    if (file === "-") {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      text = Buffer.concat(chunks).toString("utf8");
    } else {
      text = await readFile(file, "utf8");
    }
  } catch (e) {
    throw new UsageError(`cannot read pod config ${file}: ${describeError(e)}`);
  }
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new UsageError(`pod config ${file} is larger than 1 MiB`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`pod config ${file} is not valid JSON: ${describeError(e)}`);
  }
}

/** The primary cause first, then each cleanup by the name users know it by (cni-del, not cni-add). */
function failureMessage(error: Error): string {
  if (!isTransactionError(error)) return error.message;
  const parts = [describeError(error.cause)];
  for (const f of error.cleanupFailures) parts.push(`${cleanupName(f.label)} failed: ${describeError(f.error)}`);
  for (const r of error.retained) parts.push(`${cleanupName(r.label)} retained`);
  return parts.join("; ");
}

function details(r: SandboxRecord) {
  return {
    ...summary(r),
    hostname: r.hostname,
    labels: r.labels,
    annotations: r.annotations,
    resources: r.resources,
    steps: r.steps,
    error: r.error,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        "state-dir": { type: "string" },
        "netns-dir": { type: "string" },
        "cni-conf-dir": { type: "string" },
        "cni-bin-dir": { type: "string" },
        bridge: { type: "string" },
        subnet: { type: "string" },
        prefix: { type: "string" },
        failpoint: { type: "string", multiple: true },
        json: { type: "boolean" },
        quiet: { type: "boolean", short: "q" },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError(describeError(e));
  }
  const { values: o, positionals } = parsed;
  if (o.help === true) {
    out(USAGE);
    return 0;
  }
  const [command, ...args] = positionals;
  const json = o.json === true;
  const arity: Record<string, number> = { run: 1, stop: 1, rm: 1, ls: 0, inspect: 1, recover: 0, gc: 0, steps: 0 };
  if (command === undefined) throw new UsageError("a command is required");
  const expected = arity[command];
  if (expected === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  if (args.length !== expected)
    throw new UsageError(`${command} takes ${expected === 0 ? "no arguments" : "one argument"}`);
  if (o["dry-run"] === true && command !== "gc") throw new UsageError("--dry-run applies to gc only");
  for (const dir of ["state-dir", "netns-dir", "cni-conf-dir", "cni-bin-dir"] as const) {
    const value = o[dir];
    if (value !== undefined && (!value.startsWith("/") || value.includes("\0")))
      throw new UsageError(`--${dir} must be an absolute path`);
  }
  if (o.prefix !== undefined && !/^[A-Za-z0-9_.-]{1,24}$/.test(o.prefix))
    throw new UsageError("--prefix must be 1-24 characters of A-Z a-z 0-9 _ . -");

  if (command === "steps") {
    if (json) out(JSON.stringify(STEPS));
    else out(table([["STEP", "CLEANUP", "WHAT IT DOES"], ...STEPS.map((s) => [s.step, s.cleanup ?? "-", s.does])]));
    return 0;
  }

  const failpoints: Failpoints = (() => {
    const p = parseFailpoints(o.failpoint ?? []);
    if (p.isErr()) throw new UsageError(p.error);
    return p.value;
  })();

  // Validate the config before anything is touched: a bad one creates nothing, not even the state dir.
  const config = command === "run" ? parsePodConfig(await readConfig(args[0]!)) : undefined;
  if (config?.isErr() === true) throw new UsageError(config.error.message);

  const options: RunnerOptions = {
    ...(o["state-dir"] === undefined ? {} : { stateDir: o["state-dir"] }),
    ...(o["netns-dir"] === undefined ? {} : { netnsDir: o["netns-dir"] }),
    ...(o["cni-conf-dir"] === undefined ? {} : { cniConfDir: o["cni-conf-dir"] }),
    ...(o["cni-bin-dir"] === undefined ? {} : { cniBinDir: o["cni-bin-dir"] }),
    ...(o.bridge === undefined ? {} : { bridge: o.bridge }),
    ...(o.subnet === undefined ? {} : { subnet: o.subnet }),
    ...(o.prefix === undefined ? {} : { prefix: o.prefix }),
    failpoints,
    write: o.quiet === true ? () => undefined : (line) => process.stderr.write(`${line}\n`),
  };
  const runner = await Runner.open(options);
  try {
    switch (command) {
      case "run": {
        const result = await runner.run(config!._unsafeUnwrap());
        if (result.isErr()) {
          process.stderr.write(`sandbox-runner: failed to run pod sandbox: ${failureMessage(result.error)}\n`);
          return 1;
        }
        const r = result.value;
        if (json) out(JSON.stringify(summary(r)));
        else out(`${r.id}\n  netns: ${r.netnsPath ?? "(host network)"}\n  ip:    ${r.ip ?? "-"}`);
        return 0;
      }
      case "stop":
      case "rm": {
        const result = command === "stop" ? await runner.stop(args[0]!) : await runner.remove(args[0]!);
        if (result.isErr()) {
          process.stderr.write(
            `sandbox-runner: failed to ${command === "stop" ? "stop" : "remove"} pod sandbox ${args[0]}: ${failureMessage(result.error)}\n`,
          );
          return 1;
        }
        if (json) out(JSON.stringify({ id: args[0], ok: true }));
        return 0;
      }
      case "ls": {
        const problems: string[] = [];
        const records = await runner.list(problems);
        for (const p of problems) process.stderr.write(`sandbox-runner: unreadable record ${p}\n`);
        if (json) out(JSON.stringify(records.map(summary)));
        else {
          out(
            table([
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
            ]),
          );
        }
        return 0;
      }
      case "inspect": {
        const record = await runner.store.resolve(args[0]!);
        if (record === "ambiguous") throw new UsageError(`sandbox id prefix ${JSON.stringify(args[0])} is ambiguous`);
        if (record === undefined) {
          process.stderr.write(`sandbox-runner: no sandbox ${args[0]}\n`);
          return 1;
        }
        out(JSON.stringify(details(record), null, json ? undefined : 2));
        return 0;
      }
      case "recover": {
        const report = await runner.recover();
        if (report.isErr()) {
          process.stderr.write(`sandbox-runner: recovery failed: ${report.error.message}\n`);
          return 1;
        }
        const r = report.value;
        if (json) out(JSON.stringify(r, (_k, v: unknown) => (v instanceof Error ? v.message : v)));
        else {
          out(
            `recovered ${r.transactions} transaction(s): ${r.released.length} released, ${r.failed.length} failed, ${r.retained.length} retained`,
          );
          for (const f of r.failed) out(`  failed   ${f.step} (${f.saga}): ${describeError(f.error)}`);
          for (const k of r.retained) out(`  retained ${k.step} (${k.saga})`);
          for (const i of r.issues) out(`  ${i.type} ${i.source}:${i.line}: ${i.message}`);
        }
        return r.failed.length + r.retained.length > 0 ? 1 : 0;
      }
      case "gc": {
        const report = await runner.gc({ dryRun: o["dry-run"] === true });
        if (report.isErr()) {
          process.stderr.write(`sandbox-runner: gc failed: ${report.error.message}\n`);
          return 1;
        }
        const r = report.value;
        if (json) out(JSON.stringify(r));
        else {
          const verb = r.dryRun ? "would remove" : "removed";
          for (const [what, list] of Object.entries({
            netns: r.netns,
            allocations: r.allocations,
            containers: r.containers,
            bundles: r.bundles,
            names: r.names,
          })) {
            out(`${verb} ${list.length} ${what}${list.length > 0 ? `: ${list.join(", ")}` : ""}`);
          }
          for (const f of r.failed) out(`failed: ${f}`);
        }
        return r.failed.length > 0 ? 1 : 0;
      }
    }
    return 2;
  } finally {
    await runner.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`sandbox-runner: ${e.message}\n(see sandbox-runner --help)\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`sandbox-runner: ${describeError(e)}\n`);
      process.exitCode = 1;
    }
  },
);
