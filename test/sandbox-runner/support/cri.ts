// The CRI server in root tests: `sandbox-runner serve` started on a lane as a child process (as the
// other root tests start the CLI), driven by the in-repo gRPC client built from the same proto.
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";
import type { ServiceError } from "@grpc/grpc-js";
import { RuntimeService } from "../../../examples/sandbox-runner/cri/gen/api_pb.js";
import { unaryClient, type UnaryClient } from "../../../examples/sandbox-runner/cri/grpc.js";
import { show, type CliResult, type Lane } from "./sandbox.js";

export type CriClient = UnaryClient<(typeof RuntimeService)["method"]>;

export interface CriServer {
  readonly pid: number;
  /** The socket's path, and its listen address (`unix://` + path). */
  readonly socket: string;
  readonly listen: string;
  readonly client: CriClient;
  kill(signal: NodeJS.Signals): void;
  /** The server's end: its exit code and its stderr. */
  readonly done: Promise<CliResult>;
  /** Closes the client, then SIGTERM; resolves to its end. */
  stop(): Promise<CliResult>;
}

export interface ServeOptions {
  /** The socket (default `<work>/cri/<lane>.sock`). */
  readonly socket?: string;
  readonly failpoints?: readonly string[];
  readonly gracePeriod?: string;
}

/** The socket path a lane's server listens on by default. */
export function laneSocket(lane: Lane): string {
  return path.join(lane.env.work, "cri", `${path.basename(lane.stateDir)}.sock`);
}

/** Starts `serve` on `lane` and waits until it answers Version; fails with its output if it ends first. */
export async function startServer(lane: Lane, options: ServeOptions = {}): Promise<CriServer> {
  const socket = options.socket ?? laneSocket(lane);
  const listen = `unix://${socket}`;
  const args = ["serve", "--listen", listen, ...(options.failpoints ?? []).flatMap((f) => ["--failpoint", f])];
  if (options.gracePeriod !== undefined) args.push("--grace-period", options.gracePeriod);
  const started = lane.start(args, { progress: true });
  let ended: CliResult | undefined;
  const done = started.done.then((r) => (ended = r));
  const client = unaryClient(RuntimeService, listen);
  const server: CriServer = {
    pid: started.pid,
    socket,
    listen,
    client,
    kill: (signal) => started.kill(signal),
    done,
    stop: async () => {
      client.close();
      started.kill("SIGTERM");
      return done;
    },
  };
  for (const until = Date.now() + 60_000; Date.now() < until; await sleep(100)) {
    if (ended !== undefined) {
      client.close();
      throw new Error(`serve ended before it answered: ${show(ended)}`);
    }
    try {
      await client.version({}, { timeoutMs: 2000 });
      return server;
    } catch {
      // not listening yet
    }
  }
  started.kill("SIGKILL");
  client.close();
  throw new Error(`serve did not answer within 60 s: ${show(await done)}`);
}

/** The gRPC error a call rejected with (its code and details), for assertions. */
export async function rejection(call: Promise<unknown>): Promise<Pick<ServiceError, "code" | "details">> {
  try {
    await call;
  } catch (e) {
    const { code, details } = e as ServiceError;
    return { code, details };
  }
  throw new Error("the call succeeded");
}

/** Polls `check` until it returns true (or throws its last failure after `ms`). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  for (const until = Date.now() + ms; ; await sleep(100)) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  }
}

/** A pod config as the proto message's init: name and namespace, and whatever `more` adds. */
export function pod(name: string, more: Record<string, unknown> = {}) {
  return { metadata: { name, namespace: "default", uid: `uid-${name}` }, ...more };
}
