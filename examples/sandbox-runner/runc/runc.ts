// runc, under a root of the runner's own (`runc --root`), so that our containers and the host's
// never see each other. Stop kills the pause process and waits for it, instead of
// `runc delete --force` and its ~100 ms of fixed waiting.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { err, ok, type Result } from "neverthrow";
import type { Exec, ExecResult } from "../exec.js";
import { RuncError, type RuncOperation } from "./errors.js";

const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export interface ContainerState {
  readonly status: "creating" | "created" | "running" | "paused" | "stopped";
  readonly pid: number;
  readonly bundle: string;
}

export interface Runc {
  create(id: string, bundleDir: string): Promise<Result<void, RuncError>>;
  start(id: string): Promise<Result<void, RuncError>>;
  /** undefined when the container does not exist. */
  state(id: string): Promise<Result<ContainerState | undefined, RuncError>>;
  kill(id: string, signal?: string): Promise<Result<void, RuncError>>;
  /** Polls until the container is stopped or gone. */
  waitStopped(id: string, options?: { readonly timeoutMs?: number; readonly signal?: AbortSignal }): Promise<Result<void, RuncError>>;
  /** Kill with SIGKILL and wait. Idempotent. */
  stop(id: string, options?: { readonly timeoutMs?: number; readonly signal?: AbortSignal }): Promise<Result<void, RuncError>>;
  /** Idempotent: a container that does not exist is deleted. */
  delete(id: string): Promise<Result<void, RuncError>>;
  list(): Promise<Result<string[], RuncError>>;
}

const missing = (stderr: string): boolean => /does not exist|not found/i.test(stderr);

function failed(operation: RuncOperation, id: string | undefined, r: ExecResult, detail?: string): RuncError {
  const stderr = r.stderr.trim();
  const reason = detail ?? r.failure ?? (stderr === "" ? `runc exited with code ${r.exitCode}` : stderr.split("\n").at(-1)!);
  return new RuncError({ operation, ...(id === undefined ? {} : { id }), reason, ...(r.exitCode === undefined ? {} : { exitCode: r.exitCode }), stderr });
}

/** The last error runc wrote to its JSON log. */
async function logError(file: string): Promise<string | undefined> {
  try {
    const lines = (await readFile(file, "utf8")).trim().split("\n").reverse();
    for (const line of lines) {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === "error" && typeof entry.msg === "string") return entry.msg;
    }
  } catch {
    // No log, or not JSON: the exit code says enough.
  }
  return undefined;
}

export function createRunc(options: { readonly root: string; readonly exec: Exec; readonly runcPath?: string }): Runc {
  const { exec } = options;
  const base = [options.runcPath ?? "runc", "--root", options.root] as const;
  const badId = (operation: RuncOperation, id: string): RuncError | undefined =>
    idPattern.test(id) ? undefined : new RuncError({ operation, id, reason: "invalid container id" });

  const runc: Runc = {
    async create(id, bundleDir) {
      const bad = badId("create", id);
      if (bad !== undefined) return err(bad);
      const log = path.join(bundleDir, "runc.log");
      const r = await exec({ argv: [...base, "--log", log, "--log-format", "json", "create", "--bundle", bundleDir, id], detached: true });
      if (r.exitCode === 0) return ok(undefined);
      return err(failed("create", id, r, await logError(log)));
    },
    async start(id) {
      const bad = badId("start", id);
      if (bad !== undefined) return err(bad);
      const r = await exec({ argv: [...base, "start", id] });
      return r.exitCode === 0 ? ok(undefined) : err(failed("start", id, r));
    },
    async state(id) {
      const bad = badId("state", id);
      if (bad !== undefined) return err(bad);
      const r = await exec({ argv: [...base, "state", id] });
      if (r.exitCode !== 0) return missing(r.stderr) ? ok(undefined) : err(failed("state", id, r));
      try {
        const s = JSON.parse(r.stdout) as { status?: ContainerState["status"]; pid?: number; bundle?: string };
        return ok({ status: s.status ?? "stopped", pid: s.pid ?? 0, bundle: s.bundle ?? "" });
      } catch {
        return err(failed("state", id, r, "runc state printed no JSON"));
      }
    },
    async kill(id, signal = "KILL") {
      const bad = badId("kill", id);
      if (bad !== undefined) return err(bad);
      const r = await exec({ argv: [...base, "kill", id, signal] });
      if (r.exitCode === 0 || missing(r.stderr) || /not running|process already finished/i.test(r.stderr)) return ok(undefined);
      return err(failed("kill", id, r));
    },
    async waitStopped(id, { timeoutMs = 10_000, signal } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
        const s = await runc.state(id);
        if (s.isErr()) return err(s.error);
        // runc reports a zombie as stopped: PID 1 may reap our orphans late.
        if (s.value === undefined || s.value.status === "stopped") return ok(undefined);
        if (Date.now() >= deadline || signal?.aborted === true) {
          return err(new RuncError({ operation: "wait", id, reason: `still ${s.value.status} after ${timeoutMs} ms` }));
        }
        await sleep(delay);
      }
    },
    async stop(id, opts = {}) {
      const s = await runc.state(id);
      if (s.isErr()) return err(s.error);
      if (s.value === undefined || s.value.status === "stopped") return ok(undefined);
      const killed = await runc.kill(id, "KILL");
      if (killed.isErr()) return killed;
      return runc.waitStopped(id, opts);
    },
    async delete(id) {
      const bad = badId("delete", id);
      if (bad !== undefined) return err(bad);
      const r = await exec({ argv: [...base, "delete", id] });
      return r.exitCode === 0 || missing(r.stderr) ? ok(undefined) : err(failed("delete", id, r));
    },
    async list() {
      const r = await exec({ argv: [...base, "list", "--format", "json"] });
      if (r.exitCode !== 0) return err(failed("list", undefined, r));
      try {
        const entries = JSON.parse(r.stdout === "" ? "null" : r.stdout) as { id?: unknown }[] | null;
        return ok((entries ?? []).flatMap((e) => (typeof e.id === "string" ? [e.id] : [])));
      } catch {
        return err(failed("list", undefined, r, "runc list printed no JSON"));
      }
    },
  };
  return runc;
}
