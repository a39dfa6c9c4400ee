// Security review, e (root): two runners on one state dir are serialised by its lock, and a lock
// left by a runner killed with SIGKILL is taken over at once by the next one, whose `recover`
// then rolls the killed run back. (The journal's own recovery lock: test/journal/file-journal.test.ts.)
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, expect, it } from "vitest";
import { Runner } from "../../examples/sandbox-runner/runner/index.js";
import {
  cli,
  deleteLink,
  describeSandbox,
  removeWorkDirs,
  runPrefix,
  show,
  subnetBase,
  tryRun,
  workDir,
} from "./support.js";

describeSandbox("e. the state dir lock (root)", () => {
  const work = workDir("lock");
  const bridge = `${runPrefix}lb`;
  const base = subnetBase(2);
  const pod = path.join(work, "pod.json");
  writeFileSync(pod, JSON.stringify({ metadata: { name: "web", namespace: "default", uid: "u1" } }));
  const lane = (n: number) => {
    const stateDir = path.join(work, `state-${n}`);
    const prefix = `${runPrefix}l${n}-`;
    const cniDataDir = path.join(work, `cni-${n}`);
    return {
      stateDir,
      prefix,
      cniDataDir,
      opts: [
        ...["--state-dir", stateDir, "--prefix", prefix, "--cni-data-dir", cniDataDir],
        ...["--bridge", bridge, "--subnet", `${base}.${n * 64}/26`, "-q"],
      ],
    };
  };
  const netns = (prefix: string) => readdirSync("/var/run/netns").filter((n) => n.startsWith(prefix));

  afterAll(() => {
    // A failed assertion before `rm` must not leave a pause container running (its state dir goes).
    for (const n of [0, 1]) {
      const root = path.join(lane(n).stateDir, "runc");
      if (!existsSync(root)) continue;
      for (const id of readdirSync(root)) tryRun("runc", ["--root", root, "delete", "--force", id]);
    }
    const left = netns(`${runPrefix}l`);
    for (const n of left) tryRun("ip", ["netns", "delete", n]);
    deleteLink(bridge);
    removeWorkDirs();
    expect(left, "namespaces left behind").toEqual([]);
  });

  /** Polls until `check` holds (or fails after `ms`). */
  async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  }

  it.concurrent(
    "a second runner waits for a run in progress and sees it finished; a CLI ls does not wait",
    async () => {
      const { stateDir, prefix, cniDataDir, opts } = lane(0);
      const running = cli([...opts, "--json", "--failpoint", "start-container=delay:1500", "run", pod]);
      // The run holds the lock and is about to start the container (its bundle is written).
      const bundles = path.join(stateDir, "bundles");
      await until("the run to reach start-container", () => existsSync(bundles) && readdirSync(bundles).length > 0);
      const ls = cli([...opts, "--json", "ls"]);
      const second = await Runner.open({ stateDir, prefix, cniDataDir, lockWaitMs: 20_000 });
      let listed;
      try {
        listed = await second.list();
      } finally {
        await second.close();
      }
      const run = await running;
      expect(run.code, show(run)).toBe(0);
      const { id } = JSON.parse(run.stdout) as { id: string };
      // It got the lock only once the run had let go: the sandbox READY, not the NOTREADY record
      // the run holds through the delay. (Not a timing: a loaded machine only makes it later.)
      expect(listed.map((r) => [r.id, r.state])).toEqual([[id, "READY"]]);
      // ls takes no lock (test/sandbox-runner/interrupted.root.test.ts): it read the record as the
      // run had written it then, NOTREADY or READY.
      const l = await ls;
      expect(l.code, show(l)).toBe(0);
      expect((JSON.parse(l.stdout) as { id: string }[]).map((r) => r.id)).toEqual([id]);
      const rm = await cli([...opts, "rm", id]);
      expect(rm.code, show(rm)).toBe(0);
      expect(netns(prefix)).toEqual([]);
    },
  );

  it.concurrent(
    "a runner killed holding the lock (SIGKILL mid-run): the next command proceeds at once; recover rolls the run back",
    async () => {
      const { stateDir, prefix, cniDataDir, opts } = lane(1);
      const killed = await cli([...opts, "--failpoint", "start-container=crash", "run", pod]);
      expect(killed.signal, show(killed)).toBe("SIGKILL");
      const lock = path.join(stateDir, "lock");
      // The kernel let go of its flock; the holder file it wrote still names it.
      expect(existsSync(lock), "the lock file stays").toBe(true);
      const holder = JSON.parse(readFileSync(`${lock}.holder`, "utf8")) as { pid: number };
      expect(holder.pid).toBeGreaterThan(0);
      expect(netns(prefix).length, "the killed run left its netns").toBe(1);

      // Proceeds: not the 30 s a live holder would be waited for (the guard kills it at 15 s, and a
      // killed ls has no exit code).
      const ls = await cli([...opts, "--json", "ls"], { timeoutMs: 15_000 });
      expect(ls.code, show(ls)).toBe(0);
      expect((JSON.parse(ls.stdout) as { state: string }[]).map((r) => r.state)).toEqual(["NOTREADY"]);

      const recovered = await cli([...opts, "--json", "recover"], { timeoutMs: 15_000 });
      expect(recovered.code, show(recovered)).toBe(0);
      const report = JSON.parse(recovered.stdout) as {
        transactions: number;
        released: { step: string }[];
        failed: unknown[];
        retained: unknown[];
      };
      expect(report.transactions).toBe(1);
      expect(report.failed).toEqual([]);
      expect(report.retained).toEqual([]);
      expect(report.released.map((r) => r.step).sort()).toEqual(
        ["cni-add", "create-bundle", "create-netns", "create-record", "reserve-name", "start-container"].sort(),
      );
      const after = await cli([...opts, "--json", "ls"]);
      expect(after.stdout.trim()).toBe("[]");
      expect(netns(prefix)).toEqual([]);
      expect(existsSync(`${lock}.holder`), "the lock is released (its holder file goes with it)").toBe(false);
      for (const dir of ["sandboxes", "names", "bundles"])
        expect(readdirSync(path.join(stateDir, dir)), dir).toEqual([]);
      const ipDir = path.join(cniDataDir, "errdefer");
      expect(
        readdirSync(ipDir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)),
        "IP allocations",
      ).toEqual([]);
    },
  );
});
