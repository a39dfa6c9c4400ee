import { describe, expect, it } from "vitest";
import { createBatchDriver } from "../../src/netns/index.js";
import { FakeRunner } from "../support/fake-runner.js";

const failing = (line: string) =>
  line.startsWith("netns add bad")
    ? { fail: true as const, stderr: `Cannot create namespace file "/run/netns/${line.slice(10)}": File exists` }
    : {};

describe("the ip -batch driver", () => {
  it("starts one `ip -force -batch -` and writes each request followed by the sentinel", async () => {
    const runner = new FakeRunner(undefined, failing);
    const driver = createBatchDriver({ runner });
    expect(await driver.ip(["netns", "add", "a"])).toEqual({
      kind: "answered",
      failed: false,
      exitCode: undefined,
      stderr: "",
    });
    expect(runner.calls).toEqual([["ip", "-force", "-batch", "-"]]);
    expect(runner.batches[0]!.lines).toEqual(["netns add a", "errdefer-sentinel"]);
  });

  it("attributes each failure to its own request with many in flight", async () => {
    const runner = new FakeRunner(undefined, failing);
    runner.hold = true;
    const driver = createBatchDriver({ runner });
    const names = Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? `bad${i}` : `ok${i}`));
    const outcomes = Promise.all(names.map((n) => driver.ip(["netns", "add", n])));
    // The default pool: two processes, each holding a ref while it has requests in flight.
    expect(runner.batches.map((b) => [b.lines.length, b.refs])).toEqual([
      [100, 1],
      [100, 1],
    ]);
    runner.hold = false;
    runner.release();
    const results = await outcomes;
    results.forEach((o, i) => {
      const name = names[i]!;
      expect(o).toEqual(
        name.startsWith("bad")
          ? {
              kind: "answered",
              failed: true,
              exitCode: undefined,
              stderr: `Cannot create namespace file "/run/netns/${name}": File exists`,
            }
          : { kind: "answered", failed: false, exitCode: undefined, stderr: "" },
      );
    });
    // idle again: no process may keep Node alive
    expect(runner.batches.map((b) => b.refs)).toEqual([0, 0]);
  });

  it("fails pending requests clearly when the process dies, and the next request starts a new one", async () => {
    const runner = new FakeRunner();
    runner.hold = true;
    const driver = createBatchDriver({ runner });
    // Four in flight, on the default pool's two processes in turn.
    const pending = Promise.all(["w", "x", "y", "z"].map((n) => driver.ip(["netns", "add", n])));
    runner.batches[0]!.crash("ip was killed by SIGKILL");
    runner.batches[1]!.crash("ip was killed by SIGTERM");
    const outcomes = await pending;
    expect(outcomes.map((o) => (o.kind === "lost" ? o.reason : o.kind))).toEqual(
      ["SIGKILL", "SIGTERM", "SIGKILL", "SIGTERM"].map(
        (s) => `the ip -batch process was killed by ${s} with the operation in flight`,
      ),
    );
    expect(driver.pids).toEqual([]);
    runner.hold = false;
    expect((await driver.ip(["netns", "add", "z"])).kind).toBe("answered");
    expect(runner.batches).toHaveLength(3);
    expect(driver.pids).toEqual([runner.batches[2]!.pid]);
  });

  it("kills the process when an answer cannot be placed", async () => {
    const runner = new FakeRunner();
    runner.hold = true;
    const driver = createBatchDriver({ runner });
    const pending = driver.ip(["netns", "add", "x"]);
    runner.batches[0]!.emit("Command failed -:77\n");
    expect(await pending).toMatchObject({
      kind: "lost",
      reason: expect.stringContaining("answered out of order (line 77)"),
    });
    expect(runner.batches[0]!.exited).toBe(true);
  });

  it("refuses tokens ip -batch would split or unquote", async () => {
    const runner = new FakeRunner();
    const driver = createBatchDriver({ runner });
    expect(await driver.ip(["netns", "add", "a b"])).toMatchObject({ kind: "lost" });
    expect(runner.calls).toEqual([]);
  });

  it("closes its process and reports requests still in flight as lost", async () => {
    const runner = new FakeRunner();
    runner.hold = true;
    const driver = createBatchDriver({ runner });
    const pending = driver.ip(["netns", "add", "x"]);
    await driver.close();
    expect(await pending).toEqual({
      kind: "lost",
      reason: "the ip -batch process was closed with the operation in flight",
    });
  });

  it("uses two processes by default, the second only while the first has a request in flight", async () => {
    const runner = new FakeRunner();
    const driver = createBatchDriver({ runner });
    for (const n of ["a", "b", "c"]) expect((await driver.ip(["netns", "add", n])).kind).toBe("answered");
    expect(runner.batches).toHaveLength(1);
    runner.hold = true;
    const all = Promise.all([1, 2, 3, 4, 5].map((i) => driver.ip(["netns", "add", `n${i}`])));
    // Three requests on the first (its queue was empty, then the least busy), two on the second; no third.
    expect(runner.batches.map((b) => b.lines.length)).toEqual([6 + 6, 4]);
    expect(driver.pids).toEqual(runner.batches.map((b) => b.pid));
    runner.hold = false;
    runner.release();
    for (const o of await all) expect(o.kind).toBe("answered");
  });

  it("spreads requests over a pool when asked for more processes", async () => {
    const runner = new FakeRunner();
    runner.hold = true;
    const driver = createBatchDriver({ runner, processes: 2 });
    const all = Promise.all([1, 2, 3, 4].map((i) => driver.ip(["netns", "add", `n${i}`])));
    expect(runner.batches.map((b) => b.lines.length)).toEqual([4, 4]);
    runner.hold = false;
    runner.release();
    await all;
  });
});
