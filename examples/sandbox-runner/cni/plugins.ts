// Running a network list's plugins per the CNI spec: ADD in order, each given the previous
// plugin's result; DEL in reverse, going on past failures so one broken plugin cannot leak what
// the others allocated (containerd#12130 stops at the first and leaks the bridge's veth and IP).
import { stat } from "node:fs/promises";
import path from "node:path";
import type { CommandResult, CommandRunner, RunFailure } from "errdefer/host";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import { untrustedProblem } from "../trusted-path.js";
import { pluginTypeProblem } from "./config.js";
import { deadline } from "./deadline.js";
import { CniDelError, CniError, type CniCommand, type CniDelFailure } from "./errors.js";
import { sandboxIp } from "./result.js";
import type { CniNetworkList, CniPluginConfig, CniResult } from "./types.js";

export interface CniInvocation {
  /** The network list to run (for DEL: the one ADD used, stored with the sandbox). */
  readonly network: CniNetworkList;
  readonly containerId: string;
  /** The netns path; for DEL it may name a namespace that is already gone. */
  readonly netnsPath: string;
  readonly ifName: string;
  /** Where plugin binaries are looked up (never PATH); also passed as CNI_PATH for IPAM plugins. */
  readonly binDir: string;
  /** How plugins are run (errdefer/host's spawnRunner in the runner). */
  readonly exec: CommandRunner;
  readonly signal?: AbortSignal;
  /** A deadline for each plugin invocation, not for the whole list. */
  readonly timeoutMs?: number;
}

export interface CniDelInvocation extends CniInvocation {
  /** The ADD result, given to every plugin's DEL as prevResult (CNI >= 0.4.0) when known. */
  readonly prevResult?: CniResult | undefined;
}

export interface CniAddOutcome {
  /** The last plugin's result. */
  readonly result: CniResult;
  /** The sandbox interface's bare address, e.g. `10.88.0.5`; undefined if no plugin assigned one. */
  readonly ip: string | undefined;
}

export interface CniDelOutcome {
  /** Plugins whose binary does not exist: never run, so they allocated nothing. */
  readonly skipped: readonly string[];
}

type Located = { kind: "found"; file: string } | { kind: "missing" } | { kind: "invalid"; reason: string };

/**
 * Finds the plugin's binary in binDir only: a regular file (symlinks followed), as libcni's
 * FindInPath. It runs as root, so the bin dir and the file must be root's and writable by nobody
 * else (trusted-path.ts): otherwise it is invalid, and never run.
 */
export async function locatePlugin(binDir: string, type: string): Promise<Located> {
  const problem = pluginTypeProblem(type);
  if (problem !== undefined) return { kind: "invalid", reason: `invalid plugin type: ${problem}` };
  const file = path.join(binDir, type);
  try {
    if (!(await stat(file)).isFile()) return { kind: "missing" };
  } catch {
    return { kind: "missing" };
  }
  const untrusted =
    untrustedProblem(binDir, "directory", "CNI bin dir") ?? untrustedProblem(file, "file", "CNI plugin");
  return untrusted === undefined ? { kind: "found", file } : { kind: "invalid", reason: untrusted };
}

function missingMessage(type: string, binDir: string): string {
  return `failed to find plugin ${JSON.stringify(type)} in path ${binDir}`;
}

/** The plugin's stdin: its own object plus the list's cniVersion and name (and prevResult), as libcni builds it. */
export function pluginStdin(
  network: CniNetworkList,
  plugin: CniPluginConfig,
  prevResult: CniResult | undefined,
): string {
  const { prevResult: _ignored, ...own } = plugin;
  const conf: Record<string, unknown> = { ...own, cniVersion: network.cniVersion, name: network.name };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  return JSON.stringify(conf);
}

/** CNI defined prevResult for DEL in 0.4.0; libcni gives it only to such configs. */
function delTakesPrevResult(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 0 || minor >= 4;
}

interface Context {
  readonly action: string;
  readonly invocation: CniInvocation;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The plugin's error JSON (`{code,msg,details}` on stdout), or what we can say without one. */
export function pluginFailure(run: Pick<CommandResult, "exitCode" | "stdout" | "stderr">): {
  code: number | "plugin-failed";
  msg: string;
  details: string | undefined;
} {
  const body = parseJsonObject(run.stdout);
  const rawCode = body?.code;
  const code =
    typeof rawCode === "number"
      ? rawCode
      : typeof rawCode === "string" && /^\d+$/.test(rawCode)
        ? Number(rawCode)
        : undefined;
  const msg = typeof body?.msg === "string" && body.msg !== "" ? body.msg : undefined;
  const details = typeof body?.details === "string" && body.details !== "" ? body.details : undefined;
  if (msg !== undefined || code !== undefined) {
    return { code: code ?? "plugin-failed", msg: msg ?? `failed with error code ${code}`, details };
  }
  const stderr = run.stderr.trim();
  const last = stderr.split("\n").at(-1) ?? "";
  return { code: "plugin-failed", msg: last === "" ? `exited with code ${run.exitCode}` : last, details: undefined };
}

/** Runs one plugin; its outcome, or a rejection of a runner that broke the contract, as a Result. */
async function runPlugin(
  inv: CniInvocation,
  command: CniCommand,
  file: string,
  input: string,
  signal: AbortSignal | undefined,
): Promise<Result<CommandResult, RunFailure>> {
  const env = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netnsPath,
    CNI_IFNAME: inv.ifName,
    CNI_PATH: inv.binDir,
  };
  try {
    // dieWithParent: a plugin must not go on setting up or tearing down after the runner is killed,
    // racing the `recover` that rolls the run back.
    return await inv.exec.run([file], { env, input, dieWithParent: true, ...(signal === undefined ? {} : { signal }) });
  } catch (e) {
    // The contract says run never rejects; a fake or a future runner might.
    const message = `could not run ${file}: ${e instanceof Error ? e.message : String(e)}`;
    return err({ reason: "spawn", message, cause: e });
  }
}

async function invoke(
  ctx: Context,
  command: CniCommand,
  file: string,
  plugin: CniPluginConfig,
  prevResult: CniResult | undefined,
): Promise<Result<CommandResult, CniError>> {
  const { invocation: inv } = ctx;
  const fail = (code: CniError["code"], msg: string, run?: CommandResult, details?: string) =>
    err(
      new CniError({
        action: ctx.action,
        containerId: inv.containerId,
        plugin: plugin.type,
        command,
        code,
        msg,
        details,
        exitCode: run?.exitCode,
        stderr: run === undefined || run.stderr.trim() === "" ? undefined : run.stderr.trimEnd(),
        prevResult: command === "ADD" ? prevResult : undefined,
      }),
    );
  if (inv.signal?.aborted) return fail("aborted", `${command} not started: aborted`);
  const limit = deadline(inv.signal, inv.timeoutMs);
  const outcome = await runPlugin(inv, command, file, pluginStdin(inv.network, plugin, prevResult), limit.signal);
  limit.dispose();
  const run = outcome.isOk() ? outcome.value : undefined;
  if (run?.exitCode === undefined) {
    if (limit.timedOut()) return fail("timeout", `${command} timed out after ${inv.timeoutMs} ms`, run);
    if (inv.signal?.aborted) return fail("aborted", `${command} aborted`, run);
    const why = outcome.isErr() ? outcome.error.message : `${plugin.type} was killed by ${run?.signal}`;
    return fail("exec-failed", why, run);
  }
  if (run.exitCode !== 0) {
    const f = pluginFailure(run);
    return fail(f.code, f.msg, run, f.details);
  }
  return ok(run);
}

/**
 * CNI ADD of every plugin of the list, in order, each given the previous plugin's result as
 * prevResult. Stops at the first failure; whatever the earlier plugins set up is then the
 * caller's to DEL (register the DEL before calling this: a failing ADD can still allocate).
 */
export function cniAdd(invocation: CniInvocation): ResultAsync<CniAddOutcome, CniError> {
  const ctx: Context = { action: `failed to set up network for sandbox ${invocation.containerId}`, invocation };
  return new ResultAsync(
    (async (): Promise<Result<CniAddOutcome, CniError>> => {
      let prevResult: CniResult | undefined;
      for (const plugin of invocation.network.plugins) {
        const located = await locatePlugin(invocation.binDir, plugin.type);
        if (located.kind !== "found") {
          const missing = located.kind === "missing";
          return err(
            new CniError({
              action: ctx.action,
              containerId: invocation.containerId,
              plugin: plugin.type,
              command: "ADD",
              code: missing ? "missing-plugin" : "invalid-config",
              msg: missing ? missingMessage(plugin.type, invocation.binDir) : located.reason,
              prevResult,
            }),
          );
        }
        const run = await invoke(ctx, "ADD", located.file, plugin, prevResult);
        if (run.isErr()) return err(run.error);
        const result = parseJsonObject(run.value.stdout);
        if (result === undefined) {
          return err(
            new CniError({
              action: ctx.action,
              containerId: invocation.containerId,
              plugin: plugin.type,
              command: "ADD",
              code: "invalid-result",
              msg: `exited 0 but printed no JSON result: ${JSON.stringify(run.value.stdout.slice(0, 200))}`,
              exitCode: 0,
              stderr: run.value.stderr.trim() === "" ? undefined : run.value.stderr.trimEnd(),
              prevResult,
            }),
          );
        }
        prevResult = result;
      }
      // validated lists have at least one plugin; an empty one set nothing up
      const result: CniResult = prevResult ?? {};
      return ok({ result, ip: sandboxIp(result) });
    })(),
  );
}

/**
 * CNI DEL of every plugin of the list, in reverse order, each given the ADD result as prevResult
 * when known. A plugin whose binary does not exist is skipped: its ADD cannot have run. A failing
 * plugin does not stop the others; the error lists every failure.
 */
export function cniDel(invocation: CniDelInvocation): ResultAsync<CniDelOutcome, CniDelError> {
  const ctx: Context = { action: `failed to tear down network for sandbox ${invocation.containerId}`, invocation };
  const prevResult =
    invocation.prevResult !== undefined && delTakesPrevResult(invocation.network.cniVersion)
      ? invocation.prevResult
      : undefined;
  return new ResultAsync(
    (async (): Promise<Result<CniDelOutcome, CniDelError>> => {
      const failures: CniDelFailure[] = [];
      const skipped: string[] = [];
      for (const plugin of [...invocation.network.plugins].reverse()) {
        const located = await locatePlugin(invocation.binDir, plugin.type);
        if (located.kind === "missing") {
          skipped.push(plugin.type);
          continue;
        }
        if (located.kind === "invalid") {
          failures.push({
            plugin: plugin.type,
            error: new CniError({
              action: ctx.action,
              containerId: invocation.containerId,
              plugin: plugin.type,
              command: "DEL",
              code: "invalid-config",
              msg: located.reason,
            }),
          });
          continue;
        }
        const run = await invoke(ctx, "DEL", located.file, plugin, prevResult);
        if (run.isErr()) failures.push({ plugin: plugin.type, error: run.error });
      }
      return failures.length === 0 ? ok({ skipped }) : err(new CniDelError(invocation.containerId, failures, skipped));
    })(),
  );
}
