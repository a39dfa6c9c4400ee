// Our CRI server for the bench: `sandbox-runner serve` as a child process (the compiled CLI the
// bench builds, the same flags as `npm run --silent sandbox-runner -- serve ...`), on its own
// socket, state dir, netns dir and the run's CNI network; ended with SIGTERM (its graceful stop).
// A CLI without `serve` is reported as "not available", so the bench measures containerd alone.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { RuntimeService } from "../../examples/sandbox-runner/cri/gen/api_pb.js";
import { unaryClient } from "../../examples/sandbox-runner/cri/grpc.js";
import { removeAllSandboxes, type CriRuntime } from "./cycle.js";
import type { StopOptions } from "./containerd.js";
import { deleteRuncContainers, type Network } from "./host.js";

/** The compiled CLI next to this module in .bench-dist (bench/cri/ -> examples/sandbox-runner/). */
const CLI = fileURLToPath(new URL("../../examples/sandbox-runner/cli.js", import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;

export interface OurServer {
  readonly runtime: CriRuntime;
  readonly pid: number;
  /** Removes what the CRI lists (unless kept), then SIGTERM (SIGKILL after a grace period); returns the problems. */
  stop(opts?: StopOptions): Promise<string[]>;
}

/** Thrown when this checkout's CLI has no `serve` command. */
export class ServerUnavailable extends Error {
  override readonly name = "ServerUnavailable";
}

/** "sandbox-runner: Unknown option '--listen'. To specify ..." -> "Unknown option '--listen'". */
const firstSentence = (text: string) => (text.split("\n")[0] ?? "").replace(/^sandbox-runner: /, "").split(". ")[0];

async function tail(file: string): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.trim().split("\n").slice(-8).join("\n");
}

/** The server's command line (what `npm run --silent sandbox-runner -- serve ...` runs). */
export function serveArgs(dir: string, net: Network, confDir: string, prefix: string): string[] {
  return [
    "serve",
    "--listen",
    `unix://${path.join(dir, "run", "cri.sock")}`,
    "--state-dir",
    path.join(dir, "state"),
    "--netns-dir",
    path.join(dir, "netns"),
    "--cni-conf-dir",
    confDir,
    "--cni-bin-dir",
    net.binDir,
    "--cni-data-dir",
    net.ipamDir,
    "--prefix",
    prefix,
  ];
}

async function waitReady(child: ChildProcess, rt: CriRuntime, sock: string, log: string): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS;
  let last = "no socket yet";
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const said = await tail(log);
      // An older CLI refuses serve's flag or the command itself (exit 2, a usage error).
      if (child.exitCode === 2 && /unknown command "serve"|Unknown option '--listen'/.test(said))
        throw new ServerUnavailable(
          `this checkout's sandbox-runner has no \`serve\` command (it said: ${firstSentence(said)})`,
        );
      throw new Error(`our server exited (${child.exitCode ?? child.signalCode}) while starting:\n${said}`);
    }
    if (existsSync(sock)) {
      try {
        await rt.client.version({}, { timeoutMs: 2000 });
        return;
      } catch (e) {
        last = String(e);
      }
    }
    await sleep(50);
  }
  throw new Error(`our server was not ready after ${START_TIMEOUT_MS} ms (${last}):\n${await tail(log)}`);
}

/** Starts `sandbox-runner serve` with `confDir` as its CNI conf dir; `dir` persists across restarts. */
export async function startOurs(dir: string, net: Network, confDir: string, prefix: string): Promise<OurServer> {
  const sock = path.join(dir, "run", "cri.sock");
  const log = path.join(dir, "serve.log");
  await mkdir(path.join(dir, "run"), { recursive: true, mode: 0o700 });
  await mkdir(path.join(dir, "netns"), { recursive: true, mode: 0o755 });
  const fd = openSync(log, "a");
  const child = spawn(process.execPath, [CLI, ...serveArgs(dir, net, confDir, prefix)], {
    stdio: ["ignore", fd, fd],
    detached: true,
  });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", () => undefined); // seen by waitReady as an early exit
  const runtime: CriRuntime = {
    name: "ours",
    client: unaryClient(RuntimeService, `unix://${sock}`),
    network: net,
    netnsDir: path.join(dir, "netns"),
    runcRoot: path.join(dir, "state", "runc"),
  };
  const server: OurServer = {
    runtime,
    pid: child.pid ?? -1,
    stop: (opts = {}) => stopOurs(child, exited, runtime, opts.keepSandboxes === true),
  };
  try {
    await waitReady(child, runtime, sock, log);
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

async function stopOurs(child: ChildProcess, exited: Promise<void>, rt: CriRuntime, keep: boolean): Promise<string[]> {
  const problems: string[] = [];
  const running = child.exitCode === null && child.signalCode === null;
  if (running && !keep) problems.push(...(await removeAllSandboxes(rt)));
  rt.client.close();
  if (running) {
    child.kill("SIGTERM");
    const gone = await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!gone) {
      problems.push(`our server (pid ${child.pid}) did not stop ${STOP_TIMEOUT_MS} ms after SIGTERM: killed`);
      child.kill("SIGKILL");
      await exited;
    }
  }
  // A server killed mid-call (or one that kept a sandbox) may leave pause processes.
  if (!keep) problems.push(...(await deleteRuncContainers(rt.runcRoot)));
  return problems;
}
