// The fast driver on the real kernel: 200 in flight, its process killed mid-flight, and idling.
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { createBatchDriver, createNetns, listNetns, sweepNetns } from "../../src/netns/index.js";
import { describeRoot } from "../support/root.js";
import { runPrefix } from "../support/run-prefix.js";

/** The pids of this process's live `ip -force -batch -` children, sorted: what the driver really runs. */
function batchChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The ppid is the 4th field, after the parenthesised command name (which may hold blanks).
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (ppid === process.pid && argv === "ip\0-force\0-batch\0-\0") pids.push(Number(entry));
    } catch {
      // It exited while we looked.
    }
  }
  return pids.sort((a, b) => a - b);
}

const sorted = (pids: (number | undefined)[]): (number | undefined)[] => [...pids].sort((a, b) => a! - b!);

describeRoot("the ip -batch driver on the real kernel", () => {
  const driver = createBatchDriver();
  afterAll(() => driver.close());

  it("creates and removes 200 namespaces concurrently", async () => {
    const prefix = `${runPrefix}c200-`;
    const created = await Promise.all(
      Array.from({ length: 200 }, (_, i) => createNetns({ name: `${prefix}${i}`, driver })),
    );
    const namespaces = created.map((r) => r._unsafeUnwrap());
    // The default pool: two processes, no more, and no other ip -batch left running by the driver.
    expect(new Set(driver.pids).size).toBe(2);
    expect(batchChildren()).toEqual(sorted(driver.pids));
    expect((await listNetns({ prefix }))._unsafeUnwrap()).toHaveLength(200);
    const removed = await Promise.all(namespaces.map((ns) => ns.remove()));
    for (const r of removed) r._unsafeUnwrap();
    expect((await listNetns({ prefix }))._unsafeUnwrap()).toEqual([]);
  });

  it("fails the operations in flight clearly when its processes are killed, removes what they may have made, and restarts", async () => {
    const prefix = `${runPrefix}kill-`;
    const inFlight = Array.from({ length: 100 }, (_, i) => createNetns({ name: `${prefix}${i}`, driver }));
    await new Promise((r) => setTimeout(r, 5));
    const killed = driver.pids;
    expect(killed).toHaveLength(2);
    execFileSync("kill", ["-KILL", ...killed.map(String)]);
    const results = await Promise.all(inFlight);
    const lost = results.filter((r) => r.isErr()).map((r) => r._unsafeUnwrapErr());
    expect(lost.length).toBeGreaterThan(0);
    for (const e of lost) {
      expect(e.code).toBe("driver-lost");
      expect(e.message).toMatch(
        /^failed to create network namespace edt.*-kill-\d+: the ip -batch process was killed by SIGKILL with the operation in flight$/,
      );
    }
    // Those that failed left nothing; those that succeeded are there.
    const left = (await listNetns({ prefix }))
      ._unsafeUnwrap()
      .map((n) => n.name)
      .sort();
    expect(left).toEqual(
      results
        .filter((r) => r.isOk())
        .map((r) => r._unsafeUnwrap().name)
        .sort(),
    );
    // The next operation runs on new processes (the removals above already started them); the
    // killed ones were reaped and forgotten, and no more than the pool's two run.
    const next = (await createNetns({ name: `${prefix}after`, driver }))._unsafeUnwrap();
    expect(driver.pids.length).toBeGreaterThan(0);
    expect(driver.pids.length).toBeLessThanOrEqual(2);
    expect(driver.pids.filter((p) => killed.includes(p))).toEqual([]);
    expect(batchChildren()).toEqual(sorted(driver.pids));
    (await next.remove())._unsafeUnwrap();
    expect((await sweepNetns({ prefix, keep: () => false, driver }))._unsafeUnwrap().failed).toEqual([]);
  });

  it("does not keep Node alive while idle", () => {
    const script = fileURLToPath(new URL("../support/idle-exit.ts", import.meta.url));
    // A child kept alive would be killed by the timeout (signal SIGTERM, status null).
    const child = spawnSync(process.execPath, ["--import", "tsx", script, `${runPrefix}idle`], {
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(child.stderr).toBe("");
    expect(child.stdout.trim()).toBe("created and removed with 2 processes");
    expect([child.status, child.signal]).toEqual([0, null]);
  });

  it("resumes whoever awaits close(), though its idle process does not keep Node alive", () => {
    const script = fileURLToPath(new URL("../support/close-resumes.ts", import.meta.url));
    const child = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 15_000 });
    expect(child.stdout.trim()).toBe("after close");
    expect(child.status).toBe(0);
  });
});
