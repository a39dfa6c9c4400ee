// Compaction under faults: a copy the disk cuts short (through the beforeWrite hook) never replaces
// the segment; a directory fsync that fails after the rename leaves the journal writing to the
// segment's new file (not to the unlinked old one), and the next durable append makes the rename
// durable first. The directory fsync is failed by replacing syncDir (vi.mock).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { FileJournal, isJournalError, type JournalRecord } from "../../src/journal/index.js";
import { removeTempDirs, tempDir } from "../support/journal.js";

const dirSync = vi.hoisted(() => ({ fail: 0, calls: 0 }));
vi.mock("../../src/internal/atomic-write.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/internal/atomic-write.js")>();
  return {
    ...actual,
    syncDir: async (dir: string) => {
      dirSync.calls++;
      if (dirSync.fail > 0) {
        dirSync.fail--;
        throw Object.assign(new Error(`EIO: i/o error, fsync '${dir}'`), { code: "EIO" });
      }
      return actual.syncDir(dir);
    },
  };
});

afterAll(removeTempDirs);
const opened: FileJournal[] = [];
afterEach(async () => {
  dirSync.fail = 0;
  for (const j of opened.splice(0)) await j.close().catch(() => undefined);
});

const begin = (tx: string, name = "s"): JournalRecord => ({ v: 1, tx, t: "begin", name, at: 0 });
const intent = (tx: string, step: string): JournalRecord => ({
  v: 1,
  tx,
  t: "intent",
  step,
  kind: "fake",
  guard: false,
  desc: { id: step },
});
const describeRecord = (r: JournalRecord): string => `${r.tx} ${"step" in r ? `${r.t} ${r.step}` : r.t}`;
const recordsIn = (file: string): string[] =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => describeRecord(JSON.parse(l) as JournalRecord));

/** A journal holding a live saga's intent, then finished transactions up to just past 1 MiB. */
async function grownPastCompaction(j: FileJournal, before: () => void): Promise<void> {
  await j.append(begin("live"), false);
  await j.append(intent("live", "a"), true);
  const name = "n".repeat(2000);
  let k = 0;
  for (let size = 0; size < (1 << 20) - 8 * 1024; size = statSync(j.segmentPath).size) {
    // 2 KB a pair: 50 at a time while far from 1 MiB, then one by one.
    const pairs = size < (1 << 20) - 200 * 1024 ? 50 : 1;
    for (let i = 0; i < pairs; i++, k++) {
      void j.append(begin(`done-${k}`, name), false);
      void j.append({ v: 1, tx: `done-${k}`, t: "end" }, false);
    }
    await j.flush();
    if (statSync(j.segmentPath).size < 4096) throw new Error("compacted too early");
  }
  before();
  for (let i = 0; i < 5; i++, k++) {
    void j.append(begin(`done-${k}`, name), false);
    void j.append({ v: 1, tx: `done-${k}`, t: "end" }, false);
  }
  await j.flush();
}

describe("compaction", () => {
  it("a copy cut short never replaces the segment; the copy is removed", async () => {
    const dir = tempDir("copy-short");
    let cut = false;
    const j = new FileJournal(dir, {
      beforeWrite: (bytes: number, target?: string) => {
        if (!cut || target !== "copy") return undefined;
        cut = false;
        return Math.floor(bytes / 2);
      },
    });
    opened.push(j);
    const size = await (async () => {
      await grownPastCompaction(j, () => {
        cut = true;
      });
      return statSync(j.segmentPath).size;
    })();
    // Cut short, then continued: the copy is whole, verified, and replaces the segment.
    expect(size).toBeLessThan(4096);
    expect(recordsIn(j.segmentPath)).toEqual(["live begin", "live intent a"]);
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it("a copy whose write fails half-way never replaces the segment; the copy is removed", async () => {
    const dir = tempDir("copy-fail");
    let state: "off" | "cut" | "fail" = "off";
    const j = new FileJournal(dir, {
      beforeWrite: (bytes: number, target?: string) => {
        if (target !== "copy" || state === "off") return undefined;
        if (state === "cut") {
          state = "fail";
          return Math.floor(bytes / 2);
        }
        state = "off";
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      },
    });
    opened.push(j);
    await grownPastCompaction(j, () => {
      state = "cut";
    });
    expect(state, "the copy was written, cut short, and failed").toBe("off");
    const records = recordsIn(j.segmentPath);
    expect(records.slice(0, 2)).toEqual(["live begin", "live intent a"]);
    expect(statSync(j.segmentPath).size, "not compacted").toBeGreaterThan(1 << 20);
    expect(readdirSync(dir), "no copy left behind").toHaveLength(1);
    await j.append(intent("live", "b"), true);
    expect(recordsIn(j.segmentPath).at(-1)).toBe("live intent b");
  });

  it("after a failed directory fsync the journal writes to the renamed segment, and makes the rename durable", async () => {
    const dir = tempDir("dirsync");
    const j = new FileJournal(dir);
    opened.push(j);
    await grownPastCompaction(j, () => {
      dirSync.fail = 1;
    });
    expect(dirSync.fail, "the compaction's directory fsync failed").toBe(0);
    expect(recordsIn(j.segmentPath)).toEqual(["live begin", "live intent a"]);
    const calls = dirSync.calls;
    await j.append(intent("live", "b"), true);
    expect(recordsIn(j.segmentPath), "the append is in the file at the segment's path").toEqual([
      "live begin",
      "live intent a",
      "live intent b",
    ]);
    expect(dirSync.calls, "the directory was fsynced again before the append was acknowledged").toBe(calls + 1);
    dirSync.fail = 1;
    await j.append(intent("live", "c"), true);
    expect(dirSync.calls, "once durable, not again").toBe(calls + 1);
  });

  it("a failing retry of the directory fsync fails the durable append", async () => {
    const dir = tempDir("dirsync-twice");
    const j = new FileJournal(dir);
    opened.push(j);
    await grownPastCompaction(j, () => {
      dirSync.fail = 2;
    });
    const e = await j.append(intent("live", "b"), true).catch((x: unknown) => x);
    expect(isJournalError(e) && e.code).toBe("io");
    expect(String(e)).toContain("EIO");
    await j.append(intent("live", "c"), true);
    expect(recordsIn(j.segmentPath).slice(-1)).toEqual(["live intent c"]);
  });
});
