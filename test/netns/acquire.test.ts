import { err, ok } from "neverthrow";
import { describe, expect, it } from "vitest";
import { transaction } from "../../src/index.js";
import { acquireNetns, createProcessDriver } from "../../src/netns/index.js";
import { FakeRunner } from "../support/fake-runner.js";

function setup() {
  const runner = new FakeRunner();
  return { runner, driver: createProcessDriver({ runner }) };
}

describe("acquireNetns", () => {
  it("removes the namespace when the transaction fails", async () => {
    const { runner, driver } = setup();
    const result = await transaction(async (tx) => {
      const ns = await acquireNetns(tx, { name: "pod-a", driver });
      if (ns.isErr()) return err(ns.error);
      return err("cni add failed");
    });
    expect(result.isErr()).toBe(true);
    expect(runner.calls).toEqual([
      ["ip", "netns", "add", "pod-a"],
      ["ip", "netns", "del", "pod-a"],
    ]);
  });

  it("leaves the namespace to the caller when the transaction succeeds", async () => {
    const { runner, driver } = setup();
    const result = await transaction(async (tx) => acquireNetns(tx, { name: "pod-b", driver }));
    expect(result._unsafeUnwrap().path).toBe("/var/run/netns/pod-b");
    expect(runner.calls).toEqual([["ip", "netns", "add", "pod-b"]]);
  });

  it("can release on every outcome with on: always", async () => {
    const { runner, driver } = setup();
    await transaction(async (tx) => (await acquireNetns(tx, { name: "pod-c", driver, on: "always" })).map(() => 1));
    expect(runner.calls.at(-1)).toEqual(["ip", "netns", "del", "pod-c"]);
  });

  it("retains the namespace when an earlier cleanup failed (guarded, R3)", async () => {
    const { runner, driver } = setup();
    const events: string[] = [];
    const result = await transaction(
      async (tx) => {
        const ns = await acquireNetns(tx, { name: "pod-d", driver });
        if (ns.isErr()) return err(ns.error);
        tx.errdefer(() => err("cni del failed"), { label: "cni-del" });
        return err("runc failed");
      },
      { onEvent: (e) => events.push(`${e.type}${"label" in e ? ` ${e.label}` : ""}`) },
    );
    expect(result.isErr()).toBe(true);
    expect(events).toContain("cleanup:retained remove-netns");
    expect(runner.calls).toEqual([["ip", "netns", "add", "pod-d"]]);
  });

  it("returns the creation's NetnsError and registers nothing when creation fails", async () => {
    const { runner, driver } = setup();
    const result = await transaction(async (tx) => {
      const ns = await acquireNetns(tx, { name: "bad/name", driver });
      return ns.isErr() ? err(ns.error) : ok(ns.value);
    });
    expect(result._unsafeUnwrapErr().message).toContain('invalid name "bad/name"');
    expect(runner.calls).toEqual([]);
  });
});
