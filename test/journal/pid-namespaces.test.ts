// Segments say where their writer ran (issue 11, item 8): recovery adopts a segment from an
// earlier boot (its writer is gone, whatever its PID means now), never one from another PID
// namespace of this boot (its writer cannot be looked up by PID from here) unless told that other
// namespaces are dead, and judges one of its own namespace by PID and start time as before. The
// real other namespace is in pid-namespaces.root.test.ts.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { saga } from "../../src/index.js";
import { selfIdentity, type ProcessIdentity } from "../../src/internal/liveness.js";
import { FileJournal, recover, type FileJournalOptions } from "../../src/journal/index.js";
import { parseSegmentName, segmentName } from "../../src/journal/segment-name.js";
import {
  deadIdentity,
  fakeAdapter,
  journalLinesOf,
  liveChild,
  removeTempDirs,
  tempDir,
  type Identity,
} from "../support/journal.js";

const opened: FileJournal[] = [];
afterEach(async () => {
  for (const j of opened.splice(0)) await j.close().catch(() => undefined);
});
afterAll(removeTempDirs);

let dead: Identity;
let abandoned: string;
const self = selfIdentity();
const otherNamespace = String(Number(self.pidNamespace) + 1);
const otherBoot = "0123abcd-0123-4abc-8def-0123456789ab";
beforeAll(async () => {
  dead = await deadIdentity();
  // A saga killed after acquiring two resources: no commit, no end.
  const lines = await journalLinesOf((j) =>
    saga("killed")
      .resource("a", fakeAdapter("fake", []), { spec: () => ({ id: "x-a" }) })
      .resource("b", fakeAdapter("fake", []), { spec: () => ({ id: "x-b" }) })
      .run(undefined, { journal: j }),
  );
  abandoned = lines
    .filter((l) => !l.includes('"commit"') && !l.includes('"t":"end"'))
    .map((l) => `${l}\n`)
    .join("");
});

/** Writes the abandoned saga as the segment of `writer` into a new dir; returns both paths. */
function segmentOf(writer: ProcessIdentity): { dir: string; file: string } {
  const dir = tempDir("pidns");
  const file = path.join(dir, segmentName(writer));
  writeFileSync(file, abandoned, { mode: 0o600 });
  return { dir, file };
}

async function recoverIn(dir: string, options?: FileJournalOptions) {
  const log: string[] = [];
  const j = new FileJournal(dir, options);
  opened.push(j);
  const report = (await recover(j, [fakeAdapter("fake", log)]))._unsafeUnwrap();
  return { report, log };
}

describe("segment names", () => {
  it("carry the writer's PID namespace and boot, and read back as written", () => {
    expect(self.pidNamespace).toMatch(/^\d+$/);
    expect(self.bootId).toBe(readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    const name = segmentName(self);
    expect(name).toMatch(/^\d+-\d+-ns\d+-boot[0-9a-f]{32}-[0-9a-f]{8}\.jsonl$/);
    expect(parseSegmentName(name)).toEqual(self);
    expect(path.basename(new FileJournal("/nonexistent").segmentPath)).toMatch(
      new RegExp(`^${self.pid}-${self.startTime}-ns${self.pidNamespace}-boot${self.bootId!.replace(/-/g, "")}-`),
    );
  });

  it("read the old names (pid-starttime-random) as this namespace and boot; nothing else is a segment", () => {
    expect(parseSegmentName("123-456-0123abcd.jsonl")).toEqual({ pid: 123, startTime: "456" });
    expect(segmentName({ pid: 123, startTime: "456" }, "0123abcd")).toBe("123-456-0123abcd.jsonl");
    for (const name of [
      "recover.lock",
      "recover.lock.holder",
      "123-456-0123abcd.jsonl.tmp",
      "123-x-zz.jsonl",
      "123-456-ns7-bootXYZ-0123abcd.jsonl",
      "123-456-ns7-boot0123-0123abcd.jsonl",
    ])
      expect(parseSegmentName(name), name).toBeUndefined();
  });
});

describe("recovery judges a segment by where its writer ran", () => {
  it("another PID namespace of this boot: left alone, even with a PID that is dead here", async () => {
    const { dir, file } = segmentOf({ ...dead, pidNamespace: otherNamespace, bootId: self.bootId });
    const { report, log } = await recoverIn(dir);
    expect(report.transactions).toBe(0);
    expect(log).toEqual([]);
    expect(readFileSync(file, "utf8")).toBe(abandoned);
  });

  it('another PID namespace, with foreignPidNamespaces: "dead": adopted and released', async () => {
    const { dir, file } = segmentOf({ ...dead, pidNamespace: otherNamespace, bootId: self.bootId });
    const { report, log } = await recoverIn(dir, { foreignPidNamespaces: "dead" });
    expect(report.transactions).toBe(1);
    expect(log).toEqual(["release x-b", "release x-a"]);
    expect(existsSync(file)).toBe(false);
  });

  it("an earlier boot: adopted, even when its PID and start time name a live process now", async () => {
    const { dir, file } = segmentOf({ ...self, bootId: otherBoot });
    const { report, log } = await recoverIn(dir);
    expect(report.transactions).toBe(1);
    expect(log).toEqual(["release x-b", "release x-a"]);
    expect(existsSync(file)).toBe(false);
  });

  it("an earlier boot, in another PID namespace: adopted (that namespace is gone too)", async () => {
    const { dir } = segmentOf({ ...dead, pidNamespace: otherNamespace, bootId: otherBoot });
    expect((await recoverIn(dir)).log).toEqual(["release x-b", "release x-a"]);
  });

  it("this namespace and boot: by PID and start time (a live writer is left alone, a dead one adopted)", async () => {
    const live = liveChild();
    const { dir, file } = segmentOf({ ...live.identity, pidNamespace: self.pidNamespace, bootId: self.bootId });
    try {
      expect((await recoverIn(dir)).log).toEqual([]);
      expect(existsSync(file)).toBe(true);
    } finally {
      live.child.kill();
      await live.exited;
    }
    expect((await recoverIn(dir)).log).toEqual(["release x-b", "release x-a"]);
    expect(existsSync(file)).toBe(false);
  });
});

describe("the recovery lock's holder", () => {
  it("is written with its PID namespace and boot while recovery runs, and removed after", async () => {
    const dir = tempDir("pidns-holder");
    const j = new FileJournal(dir);
    opened.push(j);
    const session = await j.openRecovery();
    const holderFile = path.join(dir, "recover.lock.holder");
    try {
      expect(JSON.parse(readFileSync(holderFile, "utf8"))).toEqual(self);
    } finally {
      await session.close();
    }
    expect(existsSync(holderFile)).toBe(false);
  });
});
