// The fast driver on the real kernel: 200 in flight, its process killed mid-flight, and idling.
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { createBatchDriver, createNetns, listNetns, sweepNetns } from "../../src/netns/index.js";
import { describeRoot } from "../support/root.js";
import { runPrefix } from "../support/run-prefix.js";

describeRoot("the ip -batch driver on the real kernel", () => {
  const driver = createBatchDriver();
  afterAll(() => driver.close());

  it("creates and removes 200 namespaces concurrently", async () => {
    const prefix = `${runPrefix}c200-`;
    const created = await Promise.all(
      Array.from({ length: 200 }, (_, i) => createNetns({ name: `${prefix}${i}`, driver })),
    );
    const namespaces = created.map((r) => r._unsafeUnwrap());
    expect(driver.pids).toHaveLength(1);
    expect((await listNetns({ prefix }))._unsafeUnwrap()).toHaveLength(200);
    const removed = await Promise.all(namespaces.map((ns) => ns.remove()));
    for (const r of removed) r._unsafeUnwrap();
    expect((await listNetns({ prefix }))._unsafeUnwrap()).toEqual([]);
  });

  it("fails the operations in flight clearly when its process is killed, removes what they may have made, and restarts", async () => {
    const prefix = `${runPrefix}kill-`;
    const inFlight = Array.from({ length: 100 }, (_, i) => createNetns({ name: `${prefix}${i}`, driver }));
    await new Promise((r) => setTimeout(r, 5));
    const first = driver.pids[0];
    expect(first).toBeDefined();
    execFileSync("kill", ["-KILL", String(first)]);
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
    // The next operation starts a new process.
    const next = (await createNetns({ name: `${prefix}after`, driver }))._unsafeUnwrap();
    expect(driver.pids[0]).not.toBe(first);
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
    expect(child.stdout.trim()).toBe("created and removed");
    expect([child.status, child.signal]).toEqual([0, null]);
  });

  it("resumes whoever awaits close(), though its idle process does not keep Node alive", () => {
    const script = fileURLToPath(new URL("../support/close-resumes.ts", import.meta.url));
    const child = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 15_000 });
    expect(child.stdout.trim()).toBe("after close");
    expect(child.status).toBe(0);
  });
});
