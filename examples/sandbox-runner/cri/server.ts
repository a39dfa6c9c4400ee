// `serve`: the CRI RuntimeService on a unix socket, over one open Runner (the state dir's lock held
// while serving). Its lifecycle, as containerd's: killed runs are recovered before the first call;
// calls are served concurrently; on SIGTERM or SIGINT no new call is accepted, calls in flight get
// a grace period to finish, then runs still going are aborted (and so rolled back), and once every
// call has answered the socket and the server's claim are removed; the caller closes the runner.
import * as grpc from "@grpc/grpc-js";
import { describeError } from "errdefer";
import { OperationFailedError, removeServerClaim, writeServerClaim, type Runner } from "../runner/index.js";
import { RuntimeService } from "./gen/api_pb.js";
import { serviceDefinition, serviceImplementation, StatusError } from "./grpc.js";
import { runtimeService } from "./service.js";
import { prepareSocket, removeSocket, restrictSocket } from "./socket.js";

export interface ServeOptions {
  /** `unix://` + the socket's absolute path. */
  readonly listen: string;
  /** The socket's path (socketPath(listen)). */
  readonly socket: string;
  /** How long calls in flight may go on after SIGTERM / SIGINT before runs are aborted. */
  readonly gracePeriodMs: number;
  /** A line for the operator (stderr). */
  readonly log: (line: string) => void;
}

/** Default grace period: calls in flight get this long after SIGTERM / SIGINT. */
export const DEFAULT_GRACE_PERIOD_MS = 10_000;

/** Calls in flight, so that shutdown can wait for each to answer. */
class InFlight {
  readonly #calls = new Set<Promise<unknown>>();
  #idle: (() => void) | undefined;

  track = <T>(work: Promise<T>): Promise<T> => {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#calls.add(settled);
    void settled.then(() => {
      this.#calls.delete(settled);
      if (this.#calls.size === 0) this.#idle?.();
    });
    return work;
  };

  get size(): number {
    return this.#calls.size;
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    return this.#calls.size === 0 ? Promise.resolve() : new Promise((resolve) => (this.#idle = resolve));
  }
}

/** The first SIGTERM or SIGINT, by name; `onAgain` is called for each one after it. */
function signals(onAgain: (name: string) => void): { stop: Promise<string>; dispose: () => void } {
  let first: ((name: string) => void) | undefined;
  const stop = new Promise<string>((resolve) => (first = resolve));
  let seen = false;
  const on = (name: string): void => {
    if (seen) onAgain(name);
    seen = true;
    first?.(name);
  };
  process.on("SIGTERM", on);
  process.on("SIGINT", on);
  return { stop, dispose: () => void (process.off("SIGTERM", on), process.off("SIGINT", on)) };
}

/**
 * Serves until stopped: recovers, binds, serves, shuts down gracefully. Resolves once the socket
 * and the claim are removed (the runner stays open: the caller closes it). Throws what kept it from
 * serving (a live socket, a failed recovery) with nothing left behind.
 */
export async function serve(runner: Runner, options: ServeOptions): Promise<void> {
  const { log } = options;
  const shutdown = new AbortController();
  const abortRuns = (why: string): void =>
    shutdown.abort(new StatusError(grpc.status.UNAVAILABLE, `the CRI server is shutting down (${why})`));
  const watched = signals((name) => {
    log(`sandbox-runner serve: ${name} again: aborting the calls in flight now`);
    abortRuns(`${name} twice`);
  });
  try {
    await recoverAtStart(runner, log);
    const inFlight = new InFlight();
    const handlers = runtimeService(runner, { listen: options.listen, shutdown: shutdown.signal });
    const server = new grpc.Server();
    server.addService(
      serviceDefinition(RuntimeService),
      serviceImplementation(RuntimeService, handlers, inFlight.track),
    );
    await prepareSocket(options.socket);
    await bind(server, options.listen);
    let ino: number | undefined;
    try {
      ino = await restrictSocket(options.socket);
      await writeServerClaim(runner.layout, { pid: process.pid, listen: options.listen });
      log(`sandbox-runner serve: listening on ${options.listen} (state dir ${runner.layout.root})`);
      const why = await watched.stop;
      log(
        `sandbox-runner serve: ${why}: no new calls; ${inFlight.size} in flight, ${options.gracePeriodMs} ms to finish`,
      );
      await drain(server, inFlight, options.gracePeriodMs, () => abortRuns("grace period over"));
    } finally {
      server.forceShutdown();
      await removeServerClaim(runner.layout);
      if (ino !== undefined) await removeSocket(options.socket, ino);
    }
    log("sandbox-runner serve: stopped");
  } finally {
    watched.dispose();
  }
}

/** As containerd reconciles on restart: runs a killed server (or CLI) left are rolled back first. */
async function recoverAtStart(runner: Runner, log: (line: string) => void): Promise<void> {
  const report = await runner.recover();
  if (report.isErr())
    throw new OperationFailedError("recover before serving", report.error.message, { cause: report.error });
  const r = report.value;
  if (r.transactions > 0 || r.failed.length > 0 || r.retained.length > 0)
    log(
      `sandbox-runner serve: recovered ${r.transactions} transaction(s): ${r.released.length} released, ` +
        `${r.failed.length} failed, ${r.retained.length} retained (kept NOTREADY for RemovePodSandbox)`,
    );
  for (const f of r.failed) log(`  failed ${f.step} (${f.saga}): ${describeError(f.error)}`);
}

/** Binds with a umask that keeps the socket ours alone until restrictSocket sets its mode. */
async function bind(server: grpc.Server, listen: string): Promise<void> {
  const umask = process.umask(0o177);
  try {
    await new Promise<number>((resolve, reject) =>
      server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))),
    );
  } finally {
    process.umask(umask);
  }
}

/**
 * Stops accepting calls and waits for those in flight; when the grace period is over, `expire`
 * aborts the runs still going (each rolls back and answers), and they are waited for too.
 */
async function drain(server: grpc.Server, inFlight: InFlight, graceMs: number, expire: () => void): Promise<void> {
  const closed = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  const timer = setTimeout(expire, graceMs);
  try {
    await inFlight.idle();
  } finally {
    clearTimeout(timer);
  }
  // Every handler has answered; give the answers a moment to be written before closing for good.
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000))]);
}
