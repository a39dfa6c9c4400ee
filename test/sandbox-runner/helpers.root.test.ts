// The runner's helper processes, through the CLI with fake CNI plugins chained after the real
// bridge: a plugin still running when the runner is SIGKILLed dies with it (dieWithParent), so an
// immediate `recover` has nothing racing it; a plugin that never stops writing is killed at the
// output limit and the run is rolled back. Nothing is left either way.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, expect, it, onTestFinished } from "vitest";
import { DEFAULT_MAX_OUTPUT_BYTES } from "errdefer/host";
import { testCniBinDir } from "../support/root.js";
import { describeSandbox, linksWithMaster, nothingHeld, SandboxEnv, show, type Lane } from "./support/sandbox.js";

/**
 * The fake plugins, one node script each (one process: nothing of theirs outlives them). On ADD,
 * `slow` writes its PID to `started`, sleeps `sleepMs`, writes `marker`, then passes prevResult
 * on; `endless` writes to stdout for ever. On DEL both exit 0 at once.
 */
const plugins = {
  slow: `
const fs = require("node:fs");
const conf = JSON.parse(fs.readFileSync(0, "utf8"));
if (process.env.CNI_COMMAND !== "ADD") process.exit(0);
fs.writeFileSync(conf.started, process.pid + "\\n");
setTimeout(() => {
  fs.writeFileSync(conf.marker, "the plugin went on after its runner was killed\\n");
  process.stdout.write(JSON.stringify(conf.prevResult));
}, conf.sleepMs);
`,
  endless: `
const fs = require("node:fs");
fs.readFileSync(0);
if (process.env.CNI_COMMAND !== "ADD") process.exit(0);
const chunk = Buffer.alloc(1 << 16, "y");
const write = () => {
  while (process.stdout.write(chunk));
  process.stdout.once("drain", write);
};
write();
`,
};

/** Whether `pid` is a live process (a zombie is not). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

/** The live children of `pid` (by /proc/N/stat's ppid). */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((n) => {
      try {
        const stat = readFileSync(`/proc/${n}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid && alive(n);
      } catch {
        return false;
      }
    });
}

/** What each live process runs (its argv, joined), for messages. */
const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "(gone)";
  }
};

describeSandbox("sandbox-runner helper processes (root, through the CLI)", () => {
  const env = new SandboxEnv(8);
  const pod = env.podConfig({ metadata: { name: "web", namespace: "default" } });
  // The real plugins and the fakes, in a bin dir of the file's own.
  const bin = path.join(env.work, "bin");
  beforeAll(() => {
    mkdirSync(bin, { recursive: true });
    for (const real of ["bridge", "host-local", "loopback"])
      symlinkSync(path.join(testCniBinDir, real), path.join(bin, real));
    for (const [name, body] of Object.entries(plugins)) {
      writeFileSync(path.join(bin, name), `#!${process.execPath}\n${body}`);
      chmodSync(path.join(bin, name), 0o755);
    }
  });
  /** PIDs to kill after each test, whatever it found. */
  const strays: number[] = [];
  afterEach(() => {
    for (const pid of strays.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
  });
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  /** A conf dir of the lane's own: the bridge (host-local IPAM), then `fake`. */
  function confDir(lane: Lane, fake: Record<string, unknown>): string[] {
    const dir = path.join(env.work, `net.d-${path.basename(lane.stateDir)}`);
    mkdirSync(dir, { recursive: true });
    const bridge = {
      type: "bridge",
      bridge: env.bridge,
      isGateway: false,
      ipMasq: false,
      ipam: {
        type: "host-local",
        ranges: [[{ subnet: env.subnet }]],
        dataDir: env.cniDataDir,
      },
    };
    const list = { cniVersion: "1.0.0", name: "helpers", plugins: [bridge, fake] };
    writeFileSync(path.join(dir, "10-helpers.conflist"), JSON.stringify(list));
    return ["--cni-conf-dir", dir, "--cni-bin-dir", bin];
  }

  /** The PID written to `file`, once the line is complete. */
  async function pidIn(file: string): Promise<number> {
    const complete = () => existsSync(file) && readFileSync(file, "utf8").endsWith("\n");
    await expect.poll(complete, { timeout: 20_000, interval: 5 }).toBe(true);
    const pid = Number(readFileSync(file, "utf8"));
    strays.push(pid);
    return pid;
  }

  it("a plugin in flight when the runner is SIGKILLed dies with it; recover at once rolls the run back; nothing left", async () => {
    const lane = env.lane();
    const started = path.join(env.work, "slow.started");
    const marker = path.join(env.work, "slow.marker");
    const net = confDir(lane, { type: "slow", started, marker, sleepMs: 10_000 });
    const runner = lane.start([...net, "run", pod]);
    const plugin = await pidIn(started);
    // Everything the runner has running now: the plugin, and the `ip -batch` that made the netns.
    const helpers = childrenOf(runner.pid);
    strays.push(...helpers);
    expect(helpers).toContain(plugin);
    expect(helpers.map(cmdline).some((c) => c.includes("ip -force -batch"))).toBe(true);

    runner.kill("SIGKILL");
    const killed = await runner.done;
    expect(killed.signal, show(killed)).toBe("SIGKILL");
    // recover at once, as a service manager would restart the runner.
    const recovering = lane.cli([...net, "--json", "recover"]);
    // The kernel sent each helper SIGKILL as the runner died: they are gone within moments, long
    // before the plugin's 10 s sleep would have let it go on.
    await expect
      .poll(() => helpers.filter(alive).map((pid) => `${pid}: ${cmdline(pid)}`), { timeout: 3000, interval: 5 })
      .toEqual([]);
    const recovered = await recovering;
    expect(recovered.code, show(recovered)).toBe(0);
    const report = JSON.parse(recovered.stdout) as { transactions: number; failed: unknown[]; retained: unknown[] };
    expect(report).toMatchObject({ transactions: 1, failed: [], retained: [] });

    expect(existsSync(marker), "the plugin went on after the runner was killed").toBe(false);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
    expect(linksWithMaster(env.bridge)).toEqual([]);
  }, 60_000);

  it("a plugin that never stops writing: killed at the output limit, the run fails naming it and the limit, rolled back", async () => {
    const lane = env.lane();
    const runner = lane.start([...confDir(lane, { type: "endless" }), "run", pod], { progress: true });
    // Without a limit the runner would buffer for ever: whatever happens, it does not outlive the test.
    onTestFinished(() => runner.kill("SIGKILL"));
    const r = await runner.done;
    expect(r.code, show(r)).toBe(1);
    const limit = `${path.join(bin, "endless")} wrote more than ${DEFAULT_MAX_OUTPUT_BYTES} bytes to stdout and was killed`;
    expect(r.stderr).toContain(`plugin endless: ${limit}`);
    expect(r.stderr).toMatch(/↩ cni-del/);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
    expect(linksWithMaster(env.bridge)).toEqual([]);
  }, 60_000);
});
