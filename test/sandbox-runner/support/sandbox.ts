// Helpers for the sandbox runner's root tests: the CLI as a child process, per-file network
// settings (a bridge and a subnet of the file's own), and the host checks that nothing is left.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cliBundle } from "../../../scripts/build-cli.js";
import { removeTestDir, testDir } from "../../support/netns-dirs.js";
import { describeRoot, missingCniPlugins, onPath } from "../../support/root.js";
import { runPrefix } from "../../support/run-prefix.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const cniBinDir = "/usr/lib/cni";

/** What the sandbox tests need beyond describeRoot's tools. */
function sandboxProblem(): string | undefined {
  const missing = [
    ...missingCniPlugins(),
    ...(existsSync("/usr/bin/busybox") ? [] : ["/usr/bin/busybox (busybox-static)"]),
    ...(onPath("runc") ? [] : ["runc on PATH"]),
  ];
  return missing.length === 0 ? undefined : `the sandbox-runner root tests need ${missing.join(", ")}`;
}

/** describeRoot, also requiring runc, busybox and the CNI plugins: with CI=true their absence fails. */
export function describeSandbox(name: string, body: () => void): void {
  describeRoot(name, body, sandboxProblem());
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A CLI process started by {@link startCli}: its PID (the runner's), and its result once it has ended. */
export interface StartedCli {
  readonly pid: number;
  kill(signal: NodeJS.Signals): void;
  readonly done: Promise<CliResult>;
  /** Resolves once stderr so far matches `pattern` (progress says which step runs); rejects if the CLI ends first. */
  stderrMatches(pattern: RegExp): Promise<void>;
}

export interface CliOptions {
  readonly input?: string;
  /** Added to the CLI's environment (this process's). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Its own process group, as a shell starts a foreground job: `kill` then signals the whole group
   * (the CLI and the plugins, runc and ip it runs), as Ctrl-C at a terminal does.
   */
  readonly group?: boolean;
}

/** The command line that starts the CLI: the bundle global-setup.ts built (scripts/build-cli.js). */
export const cliArgv: readonly string[] = [process.execPath, cliBundle];

/** Starts the CLI (`node examples/sandbox-runner/bin/errdefer-sandbox.mjs ...args`) from the repo root. */
export function startCli(args: readonly string[], options: CliOptions = {}): StartedCli {
  const child = spawn(cliArgv[0]!, [...cliArgv.slice(1), ...args], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NODE_OPTIONS: "", ...options.env },
    detached: options.group === true,
  });
  let stderr = "";
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const stderrMatches = (pattern: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(stderr)) return;
        child.stderr.off("data", check);
        resolve();
      };
      child.stderr.on("data", check);
      void done.then((r) => reject(new Error(`the CLI ended before stderr matched ${pattern}: ${show(r)}`)));
      check();
    });
  child.stdin.end(options.input ?? "");
  const kill = (signal: NodeJS.Signals): void => {
    if (options.group === true && child.pid !== undefined) process.kill(-child.pid, signal);
    else child.kill(signal);
  };
  return { pid: child.pid ?? -1, kill, done, stderrMatches };
}

/** Runs the CLI to its end. */
export function cli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

/** A CLI result, for failure messages. */
export function show(r: CliResult): string {
  return `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

export interface SandboxSummary {
  id: string;
  name: string;
  namespace: string;
  state: "READY" | "NOTREADY";
  netnsPath: string | null;
  ip: string | null;
  createdAt: string;
  hostNetwork: boolean;
}

export interface SandboxDetails extends SandboxSummary {
  resources: { step: string; kind: string; guard: boolean; description: unknown }[];
  steps: { step: string; status: string; error?: string }[];
  error: string | null;
}

const ip = (...args: string[]): string => execFileSync("ip", args, { encoding: "utf8" });

/**
 * One test file's world: a work dir under os.tmpdir() named with the run prefix, and a bridge and
 * a subnet of its own. Its tests run in lanes, each with a state dir and a `--prefix` of its own
 * (`<run prefix><file><lane>-`), so that concurrent tests can each check that their own netns,
 * cgroups and containers are gone.
 */
export class SandboxEnv {
  /** What every lane's prefix starts with. */
  readonly prefix: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly subnetBase: string;
  readonly work: string;
  /** host-local's data dir for every lane (`--cni-data-dir`): tests never write to /var/lib/cni. */
  readonly cniDataDir: string;
  readonly lanes: Lane[] = [];
  #files = 0;

  /**
   * `index` (0-255, a different one in each test file: test/sandbox-runner/env-index.test.ts checks)
   * makes the bridge, the subnet and the prefixes unique per file.
   */
  constructor(readonly index: number) {
    if (!Number.isInteger(index) || index < 0 || index > 255) throw new RangeError(`SandboxEnv index ${index}`);
    const hex = index.toString(16).padStart(2, "0");
    this.prefix = `${runPrefix}${hex}`;
    this.bridge = `${runPrefix}s${hex}`;
    if (this.bridge.length > 15) throw new Error(`bridge name ${this.bridge} is longer than 15 characters`);
    // 10.252.X.0/24: X from the run prefix and the file, so concurrent runs and files rarely collide.
    const x = (parseInt(runPrefix.slice(3, 9), 16) + index) % 256;
    this.subnetBase = `10.252.${x}`;
    this.subnet = `${this.subnetBase}.0/24`;
    this.work = testDir(`sr${hex}`);
    mkdirSync(this.work, { recursive: true, mode: 0o700 });
    this.cniDataDir = path.join(this.work, "cni-networks");
  }

  /** A new lane: a state dir (not created: the runner creates it) and a prefix of its own (or `prefix`). */
  lane(prefix?: string): Lane {
    const n = this.lanes.length.toString(36).padStart(2, "0");
    const lane = new Lane(this, path.join(this.work, `state${n}`), prefix ?? `${this.prefix}${n}-`);
    this.lanes.push(lane);
    return lane;
  }

  /** Writes a pod config file (a string is written as is; `.yaml` for YAML) and returns its path. */
  podConfig(config: unknown, label = "pod", extension = ".json"): string {
    const file = path.join(this.work, `${label}-${++this.#files}${extension}`);
    writeFileSync(file, typeof config === "string" ? config : JSON.stringify(config));
    return file;
  }

  /** Everything this file's tests left on the host, except veths (see teardown). */
  leftovers(): string[] {
    const found: string[] = [];
    for (const n of netnsNames()) if (n.startsWith(this.prefix)) found.push(`netns ${n}`);
    for (const m of mountsWith(this.prefix)) found.push(`mount ${m}`);
    if (linkExists(this.bridge)) found.push(`bridge ${this.bridge}`);
    for (const c of cgroupsWith(this.prefix)) found.push(`cgroup ${c}`);
    for (const lane of this.lanes) {
      for (const c of runcContainers(lane.stateDir)) found.push(`runc container ${c} under ${lane.stateDir}/runc`);
    }
    for (const f of ipFiles(this.cniDataDir)) found.push(`host-local IP file ${f}`);
    return found;
  }

  /**
   * After the file: deletes the bridge, reports what is left, then removes it all (best effort, so
   * that a failing test does not litter the host) and the work dir. Returns what was found.
   */
  teardown(): string[] {
    // The bridge plugin creates the bridge and never deletes it; its veths are looked for first,
    // while they still name it as their master.
    const veths = linksWithMaster(this.bridge);
    if (linkExists(this.bridge)) ip("link", "del", this.bridge);
    const found = [...veths.map((v) => `veth ${v} on ${this.bridge}`), ...this.leftovers()];
    for (const lane of this.lanes) {
      for (const c of runcContainers(lane.stateDir))
        tryRun("runc", ["--root", path.join(lane.stateDir, "runc"), "delete", "--force", c]);
    }
    for (const n of netnsNames()) if (n.startsWith(this.prefix)) tryRun("ip", ["netns", "delete", n]);
    for (const v of veths) tryRun("ip", ["link", "del", v]);
    for (const c of cgroupsWith(this.prefix)) tryRun("rmdir", [c]);
    removeTestDir(this.work);
    return found;
  }
}

/** One state dir and prefix; the CLI run on it with the file's bridge and subnet. */
export class Lane {
  constructor(
    readonly env: SandboxEnv,
    readonly stateDir: string,
    readonly prefix: string,
  ) {}

  /** The global options of a runner on this lane (quiet unless `progress`). */
  opts(progress = false): string[] {
    return [
      "--state-dir",
      this.stateDir,
      "--prefix",
      this.prefix,
      "--bridge",
      this.env.bridge,
      "--subnet",
      this.env.subnet,
      "--cni-data-dir",
      this.env.cniDataDir,
      ...(progress ? [] : ["-q"]),
    ];
  }

  /** Runs the CLI with this lane's options. */
  cli(args: readonly string[], options: CliOptions & { readonly progress?: boolean } = {}): Promise<CliResult> {
    return this.start(args, options).done;
  }

  /** Starts the CLI with this lane's options. */
  start(args: readonly string[], options: CliOptions & { readonly progress?: boolean } = {}): StartedCli {
    const { progress, ...rest } = options;
    return startCli([...this.opts(progress), ...args], rest);
  }

  /** `ls --json`, parsed; fails on a non-zero exit. */
  async ls(): Promise<SandboxSummary[]> {
    const r = await this.cli(["--json", "ls"]);
    if (r.code !== 0) throw new Error(`ls failed: ${show(r)}`);
    return JSON.parse(r.stdout) as SandboxSummary[];
  }

  async inspect(id: string): Promise<SandboxDetails> {
    const r = await this.cli(["--json", "inspect", id]);
    if (r.code !== 0) throw new Error(`inspect failed: ${show(r)}`);
    return JSON.parse(r.stdout) as SandboxDetails;
  }

  netnsName(id: string): string {
    return `${this.prefix}${id}`;
  }

  /** The state dir's owner tag, which ends its ids (lanes may share a prefix); "" before the runner made it. */
  tag(): string {
    const file = path.join(this.stateDir, "owner");
    return existsSync(file) ? readFileSync(file, "utf8").trim() : "";
  }

  /** Whether a netns or cgroup name is this lane's: its prefix, and its tag at the end. */
  owns(name: string): boolean {
    return name.startsWith(this.prefix) && name.endsWith(this.tag());
  }

  /** This lane's host-local allocations in the file's shared data dir (their ids carry its tag). */
  ipFiles(): string[] {
    const tag = this.tag();
    return ipFiles(this.env.cniDataDir, tag === "" ? () => false : (id) => id.endsWith(tag));
  }

  /** This lane's namespaces on the host. */
  netns(): string[] {
    return netnsNames().filter((n) => this.owns(n));
  }

  /** What the lane still holds, as its state dir and the host show it. */
  held(): Holdings {
    return {
      records: listFiles(path.join(this.stateDir, "sandboxes")).filter((f) => f.endsWith(".json")),
      names: listFiles(path.join(this.stateDir, "names")),
      bundles: listFiles(path.join(this.stateDir, "bundles")),
      containers: runcContainers(this.stateDir),
      ipFiles: this.ipFiles(),
      netns: this.netns(),
      cgroups: cgroupsWith(this.prefix).filter((c) => this.owns(path.basename(c))),
    };
  }
}

export interface Holdings {
  readonly records: string[];
  readonly names: string[];
  readonly bundles: string[];
  readonly containers: string[];
  readonly ipFiles: string[];
  readonly netns: string[];
  readonly cgroups: string[];
}

export const nothingHeld: Holdings = {
  records: [],
  names: [],
  bundles: [],
  containers: [],
  ipFiles: [],
  netns: [],
  cgroups: [],
};

function tryRun(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
  } catch {
    // best effort
  }
}

function listFiles(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Allocation files host-local keeps in `dataDir` (`<dataDir>/<net>/<ip>`), of container ids `whose`. */
export function ipFiles(dataDir: string, whose: (containerId: string) => boolean = () => true): string[] {
  return listFiles(dataDir).flatMap((net) =>
    listFiles(path.join(dataDir, net))
      .filter((f) => /^[0-9.]+$|:/.test(f))
      .map((f) => path.join(dataDir, net, f))
      .filter((f) => whose(containerIdIn(f))),
  );
}

/** The container id an allocation file names ("" once it is gone). */
function containerIdIn(file: string): string {
  try {
    return readFileSync(file, "utf8").split(/\r?\n/)[0] ?? "";
  } catch {
    return "";
  }
}

/** Containers under the state dir's runc root. */
export function runcContainers(stateDir: string): string[] {
  const root = path.join(stateDir, "runc");
  if (!existsSync(root)) return [];
  const out = execFileSync("runc", ["--root", root, "list", "--format", "json"], { encoding: "utf8" }).trim();
  const entries = JSON.parse(out === "" ? "null" : out) as { id: string; status: string }[] | null;
  return (entries ?? []).map((e) => e.id);
}

export function runcStatus(stateDir: string, id: string): string | undefined {
  try {
    const out = execFileSync("runc", ["--root", path.join(stateDir, "runc"), "state", id], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return (JSON.parse(out) as { status: string }).status;
  } catch {
    return undefined;
  }
}

export function netnsNames(): string[] {
  return ip("netns", "list")
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter((n) => n !== "");
}

export function mountsWith(text: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => m?.includes(text) === true);
}

export function linkExists(name: string): boolean {
  return ip("-o", "link", "show")
    .split("\n")
    .some((l) => l.split(": ")[1]?.split("@")[0] === name);
}

/** Links (the host ends of pods' veths) enslaved to `bridge`. */
export function linksWithMaster(bridge: string): string[] {
  return ip("-o", "link", "show")
    .split("\n")
    .filter((l) => l.includes(` master ${bridge} `))
    .map((l) => l.split(": ")[1]!.split("@")[0]!);
}

/** cgroup dirs named with `prefix` directly under /sys/fs/cgroup or one of its hierarchies. */
export function cgroupsWith(prefix: string): string[] {
  const root = "/sys/fs/cgroup";
  const found: string[] = [];
  for (const name of listFiles(root)) {
    const p = path.join(root, name);
    if (name.startsWith(prefix)) found.push(p);
    for (const sub of listFiles(p)) if (sub.startsWith(prefix)) found.push(path.join(p, sub));
  }
  return found;
}

/** `ip -o addr` inside the named netns. */
export function netnsAddresses(name: string): string {
  return ip("-n", name, "-o", "addr");
}
