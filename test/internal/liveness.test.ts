// Process liveness across PID namespaces and boots (src/internal/liveness.ts): where a recorded
// process ran, whether it counts as alive there, identities read back from files, and how a lock
// holder in another namespace is named.
import { readlinkSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { asProcessIdentity, isAlive, placeOf, selfIdentity } from "../../src/internal/liveness.js";
import { LockBusyError } from "../../src/internal/lock-file.js";
import { deadIdentity } from "../support/journal.js";

const self = selfIdentity();
const otherNamespace = "4026599999";
const otherBoot = "0123abcd-0123-4abc-8def-0123456789ab";

describe("selfIdentity", () => {
  it("names this process's PID namespace and boot", () => {
    expect(self.pid).toBe(process.pid);
    expect(readlinkSync("/proc/self/ns/pid")).toBe(`pid:[${self.pidNamespace}]`);
    expect(self.bootId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});

describe("placeOf and isAlive", () => {
  it("this namespace and boot (or unrecorded ones): PID, start time, not a zombie", async () => {
    expect(placeOf(self)).toBe("this-namespace");
    expect(placeOf({ pid: 1, startTime: "1" })).toBe("this-namespace");
    expect(placeOf({ ...self, bootId: self.bootId!.replace(/-/g, "").toUpperCase() })).toBe("this-namespace");
    expect(await isAlive(self)).toBe(true);
    expect(await isAlive({ pid: self.pid, startTime: self.startTime })).toBe(true);
    expect(await isAlive({ ...self, startTime: "1" }), "a reused PID").toBe(false);
    expect(await isAlive(await deadIdentity())).toBe(false);
  });

  it("an earlier boot: dead, whatever its PID names now", async () => {
    expect(placeOf({ ...self, bootId: otherBoot })).toBe("other-boot");
    expect(await isAlive({ ...self, bootId: otherBoot })).toBe(false);
    expect(await isAlive({ ...self, pidNamespace: otherNamespace, bootId: otherBoot })).toBe(false);
  });

  it('another PID namespace of this boot: alive unless foreignPidNamespaces is "dead"', async () => {
    const gone = { ...(await deadIdentity()), pidNamespace: otherNamespace, bootId: self.bootId };
    expect(placeOf(gone)).toBe("other-namespace");
    expect(await isAlive(gone)).toBe(true);
    expect(await isAlive(gone, { foreignPidNamespaces: "live" })).toBe(true);
    expect(await isAlive(gone, { foreignPidNamespaces: "dead" })).toBe(false);
    // The option is about other namespaces only.
    expect(await isAlive(self, { foreignPidNamespaces: "dead" })).toBe(true);
  });
});

describe("asProcessIdentity", () => {
  it("takes a well-formed identity, with or without its namespace and boot", () => {
    expect(asProcessIdentity(JSON.parse(JSON.stringify(self)))).toEqual(self);
    expect(asProcessIdentity({ pid: 7, startTime: "9" })).toEqual({ pid: 7, startTime: "9" });
  });
  it.each([null, 7, "x", {}, { pid: "7", startTime: "9" }, { pid: 0, startTime: "9" }, { pid: 1.5, startTime: "9" }])(
    "refuses %j",
    (value) => {
      expect(asProcessIdentity(value)).toBeUndefined();
    },
  );
  it("refuses a namespace or boot that is not a string", () => {
    expect(asProcessIdentity({ pid: 7, startTime: "9", pidNamespace: 5 })).toBeUndefined();
    expect(asProcessIdentity({ pid: 7, startTime: "9", bootId: null })).toBeUndefined();
  });
});

describe("a lock holder's name", () => {
  it("says which PID namespace a holder from another one is in", () => {
    expect(new LockBusyError("/x", { pid: 1, startTime: "5", pidNamespace: otherNamespace }).message).toBe(
      `/x is held by process 1 (in PID namespace ${otherNamespace})`,
    );
    expect(new LockBusyError("/x", self).message).toBe(`/x is held by process ${self.pid}`);
    expect(new LockBusyError("/x", undefined).message).toBe("/x is held by another process");
  });
});
