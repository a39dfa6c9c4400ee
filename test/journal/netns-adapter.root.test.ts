// The netns adapter with a real namespace: a saga creates one, the process is "killed" (its
// journal cut before the commit, read back with MemoryJournal.fromLines), and recover removes it.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { err } from "neverthrow";
import { afterAll, expect, it } from "vitest";
import { saga } from "../../src/index.js";
import { MemoryJournal, recover, type JournalRecord } from "../../src/journal/index.js";
import { createProcessDriver, netnsAdapter } from "../../src/netns/index.js";
import { removeTestDir, testDir } from "../support/netns-dirs.js";
import { describeRoot } from "../support/root.js";
import { runPrefix } from "../support/run-prefix.js";
import { fakeAdapter } from "../support/journal.js";

const mounted = (p: string): boolean =>
  readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === p);

describeRoot("the netns adapter in a saga, recovered after a kill", () => {
  const dir = testDir("saga-netns");
  const ns = netnsAdapter({ driver: createProcessDriver(), dirs: [dir], prefix: runPrefix });
  afterAll(() => {
    removeTestDir(dir);
  });

  it("recover removes the namespace a killed saga left, and a second recover does nothing", async () => {
    const name = `${runPrefix}saga`;
    const nsPath = path.join(dir, name);
    const log: string[] = [];
    const fake = fakeAdapter("fake", log);
    const journal = new MemoryJournal();
    const r = await saga("pod")
      .resource("netns", ns, { spec: () => ({ dir, name }), guard: true })
      .resource("veth", fake, { spec: () => ({ id: "veth" }) })
      .run(undefined, { journal });
    expect(r._unsafeUnwrap().context.netns.path).toBe(nsPath);
    expect(existsSync(nsPath) && mounted(nsPath)).toBe(true);

    // Killed before the commit: everything up to the last acquisition is on disk.
    const lines = journal.lines().filter((l) => (JSON.parse(l) as JournalRecord).t !== "commit");
    const restarted = MemoryJournal.fromLines(lines);
    const report = (await recover(restarted, [ns, fake]))._unsafeUnwrap();
    expect(report.released.map((x) => [x.step, x.kind])).toEqual([
      ["veth", "fake"],
      ["netns", "netns"],
    ]);
    expect(report.failed).toEqual([]);
    expect(log).toEqual(["acquire veth", "release veth"]);
    expect(existsSync(nsPath)).toBe(false);
    expect(mounted(nsPath)).toBe(false);
    expect((await recover(restarted, [ns, fake]))._unsafeUnwrap().transactions).toBe(0);
  });

  it("killed after the intent, before the namespace existed: recover releases the plan without error", async () => {
    const name = `${runPrefix}saga-intent`;
    const journal = new MemoryJournal();
    // The process "dies" at the acquisition: the intent is written, the namespace never made.
    const dying = { ...ns, acquire: () => err(new Error("killed")) };
    expect(
      (
        await saga("pod")
          .resource("netns", dying, { spec: () => ({ dir, name }) })
          .run(undefined, { journal })
      ).isErr(),
    ).toBe(true);
    expect(existsSync(path.join(dir, name))).toBe(false);
    const lines = journal.lines().filter((l) => ["begin", "intent"].includes((JSON.parse(l) as JournalRecord).t));
    const report = (await recover(MemoryJournal.fromLines(lines), [ns]))._unsafeUnwrap();
    expect(report.released.map((x) => x.step)).toEqual(["netns"]);
    expect(report.failed).toEqual([]);
  });
});
