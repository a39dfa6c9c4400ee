// Commands that used to get stuck (issue 15). Item 5: a run interrupted part-way (Ctrl-C, SIGKILL)
// and then `rm` / `stop` without a `recover` first: the killed run's journal transaction is rolled
// back before the sandbox is removed, so nothing is left and its pod name can be used again; a run
// still going is refused, naming the process that holds the state dir. Item 6: bad lock files are
// locked as they are or refused at once, and `ls` / `inspect` take no lock at all.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, expect, it } from "vitest";
import { describeSandbox, nothingHeld, SandboxEnv, show, type Lane, type StartedCli } from "./support/sandbox.js";

/** Polls until `check` holds; a hang is caught by the test timeout. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await sleep(20);
}

describeSandbox("sandbox-runner: Ctrl-C or SIGKILL mid-run, then rm / stop (root, through the CLI)", () => {
  const env = new SandboxEnv(15);
  const pod = env.podConfig({ metadata: { name: "web", namespace: "default", uid: "u-1" } });
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  /** A run held at start-container (netns, veth, IP and bundle made); resolves to its sandbox id. */
  async function runHeldAtStart(lane: Lane): Promise<{ run: StartedCli; id: string }> {
    const run = lane.start(["run", "--failpoint", "start-container=delay:100000", pod]);
    const bundles = path.join(lane.stateDir, "bundles");
    await until(() => lane.held().bundles.length === 1);
    return { run, id: readdirSync(bundles)[0]! };
  }

  async function expectNothingLeft(lane: Lane): Promise<void> {
    expect(lane.held()).toEqual(nothingHeld);
    expect(await lane.ls()).toEqual([]);
    // The pod name is free again: the same config runs, and is removed.
    const again = await lane.cli(["--json", "run", pod]);
    expect(again.code, show(again)).toBe(0);
    const rm = await lane.cli(["rm", (JSON.parse(again.stdout) as { id: string }).id]);
    expect(rm.code, show(rm)).toBe(0);
    expect(lane.held()).toEqual(nothingHeld);
  }

  // (SIGINT rolls the run back itself, and a second one exits at once: cli-signals.root.test.ts.)
  it.concurrent.each(["SIGKILL"] as const)("%s mid-run, then rm: exit 0, nothing left", async (signal) => {
    const lane = env.lane();
    const { run, id } = await runHeldAtStart(lane);
    run.kill(signal);
    const killed = await run.done;
    expect(killed.signal, show(killed)).toBe(signal);
    expect(lane.held().netns, "the killed run left its netns").toEqual([lane.netnsName(id)]);

    const rm = await lane.cli(["rm", id]);
    expect(rm.code, show(rm)).toBe(0);
    await expectNothingLeft(lane);
  });

  it.concurrent("SIGKILL mid-run, then stop: the run is rolled back; rm of the id is then a no-op", async () => {
    const lane = env.lane();
    const { run, id } = await runHeldAtStart(lane);
    run.kill("SIGKILL");
    await run.done;
    const stop = await lane.cli(["stop", id.slice(0, 8)]);
    expect(stop.code, show(stop)).toBe(0);
    expect(lane.held().netns).toEqual([]);
    const rm = await lane.cli(["rm", id]);
    expect(rm.code, show(rm)).toBe(0);
    await expectNothingLeft(lane);
  });

  it.concurrent("rm while the run is still going: refused, naming the process that holds the state dir", async () => {
    const lane = env.lane();
    const { run, id } = await runHeldAtStart(lane);
    try {
      const rm = await lane.cli(["rm", id]);
      expect(rm.code, show(rm)).toBe(1);
      expect(rm.stderr).toContain(`is held by process ${run.pid}`);
      expect(lane.held().netns, "the live run's netns is untouched").toEqual([lane.netnsName(id)]);
    } finally {
      run.kill("SIGKILL");
      await run.done;
    }
    const rm = await lane.cli(["rm", id]);
    expect(rm.code, show(rm)).toBe(0);
    // Its veth: afterAll's teardown finds any left on the bridge (the file's other tests share it,
    // and run at the same time, so the bridge is not empty here).
    await expectNothingLeft(lane);
  });

  const lockContents: [string, (lock: string) => void][] = [
    ["garbage", (f) => writeFileSync(f, "\u0000{{ not json", { mode: 0o600 })],
    ["zero-filled", (f) => writeFileSync(f, Buffer.alloc(4096), { mode: 0o600 })],
    ["a directory", (f) => mkdirSync(f, { mode: 0o700 })],
  ];
  it.concurrent.each(lockContents)(
    "a lock file that is %s: run, ls and rm work; it stays as it was",
    async (kind, make) => {
      const lane = env.lane();
      mkdirSync(lane.stateDir, { mode: 0o700 });
      const lock = path.join(lane.stateDir, "lock");
      make(lock);
      writeFileSync(`${lock}.holder`, "\u0000 torn holder");
      const before = statSync(lock);
      const run = await lane.cli(["--json", "run", pod]);
      expect(run.code, show(run)).toBe(0);
      const { id } = JSON.parse(run.stdout) as { id: string };
      expect((await lane.ls()).map((r) => r.id)).toEqual([id]);
      const rm = await lane.cli(["rm", id]);
      expect(rm.code, show(rm)).toBe(0);
      expect(statSync(lock).ino, kind).toBe(before.ino);
      if (kind !== "a directory") expect(readFileSync(lock).length).toBe(before.size);
      expect(readdirSync(lane.stateDir).filter((f) => f.startsWith("lock") || f.includes(".tmp"))).toEqual(["lock"]);
      expect(lane.held()).toEqual(nothingHeld);
    },
  );

  it.concurrent(
    "ls and inspect take no lock: they answer while another process holds it, or with a FIFO lock",
    async () => {
      const lane = env.lane();
      const run = await lane.cli(["--json", "run", pod]);
      expect(run.code, show(run)).toBe(0);
      const { id } = JSON.parse(run.stdout) as { id: string };
      const lock = path.join(lane.stateDir, "lock");
      // One process holds it: the shell's flock(1) locks fd 9, which `exec sleep` keeps.
      const holder = spawn("sh", ["-c", 'exec 9<"$1" && flock --exclusive 9 && exec sleep 1000', "sh", lock], {
        stdio: "ignore",
      });
      const gone = new Promise((resolve) => holder.once("exit", resolve));
      try {
        await until(() => spawnSync("flock", ["--nonblock", lock, "true"]).status === 1);
        // Not waited for (the old ls waited 30 s for the lock, then failed).
        expect((await lane.ls()).map((r) => [r.id, r.state])).toEqual([[id, "READY"]]);
        expect((await lane.inspect(id.slice(0, 6))).id).toBe(id);
      } finally {
        holder.kill("SIGKILL");
        await gone;
      }
      // A lock that cannot be locked is said to be so at once; ls still answers.
      const saved = `${lock}.saved`;
      execFileSync("mv", [lock, saved]);
      execFileSync("mkfifo", [lock]);
      const refused = await lane.cli(["rm", id]);
      expect(refused.code, show(refused)).toBe(1);
      expect(refused.stderr).toContain(`${lock} cannot be a lock file: it is not a regular file or directory`);
      expect((await lane.ls()).map((r) => r.id)).toEqual([id]);
      execFileSync("mv", ["-f", saved, lock]);
      const rm = await lane.cli(["rm", id]);
      expect(rm.code, show(rm)).toBe(0);
      expect(lane.held()).toEqual(nothingHeld);
    },
  );
});
