// FileJournal on a real full disk (a small tmpfs, root only): a record the disk takes only part of
// (a real short write) is never acknowledged and is cut back off, so the next record starts on a
// clean line; a write that gets ENOSPC at once fails the same way; a saga whose intent does not fit
// acquires nothing; and a compaction whose copy the disk cuts short leaves the segment as it was.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { saga } from "../../src/index.js";
import { FileJournal, isJournalError, type JournalRecord } from "../../src/journal/index.js";
import { fakeAdapter, removeTempDirs } from "../support/journal.js";
import { describeTmpfs, fillUp, mountTmpfs, unmountAll } from "./tmpfs.js";

afterAll(() => {
  unmountAll();
  removeTempDirs();
});

const begin = (tx: string, name = "s"): JournalRecord => ({ v: 1, tx, t: "begin", name, at: 0 });
const intent = (tx: string, step: string, pad = 0): JournalRecord => ({
  v: 1,
  tx,
  t: "intent",
  step,
  kind: "fake",
  guard: false,
  desc: { id: step, pad: "p".repeat(pad) },
});

/** Every line of the segment, parsed; throws on a torn or glued line. */
function linesOf(file: string): JournalRecord[] {
  const text = readFileSync(file, "utf8");
  expect(text === "" || text.endsWith("\n"), "no torn last line").toBe(true);
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as JournalRecord);
}

const describeRecord = (r: JournalRecord): string => ("step" in r ? `${r.t} ${r.step}` : r.t);

describeTmpfs("a full disk (tmpfs)", () => {
  it("a record the disk takes only part of is refused and cut back off; the next one starts on a clean line", async () => {
    const mnt = mountTmpfs("short-write", "64k");
    const writes: number[] = [];
    const j = new FileJournal(path.join(mnt, "journal"), { beforeWrite: (bytes) => void writes.push(bytes) });
    await j.append(begin("t1"), true);
    const before = statSync(j.segmentPath).size;
    const filler = fillUp(mnt);
    filler.leave(1);
    writes.length = 0;
    // 10 KB into one free page plus the segment's slack: the kernel writes part of it (a short write).
    const e = await j.append(intent("t1", "big", 10_000), true).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(isJournalError(e), `the append is refused, got ${String(e)}`).toBe(true);
    expect(isJournalError(e) && e.code).toBe("io");
    expect(String(e)).toContain("ENOSPC");
    expect(writes.length, "a real short write (the rest asked for again, then ENOSPC)").toBe(2);
    expect(writes[1]).toBeLessThan(writes[0]!);
    expect(statSync(j.segmentPath).size, "cut back to the last whole record").toBe(before);
    filler.remove();
    await j.append(intent("t1", "small"), true);
    expect(linesOf(j.segmentPath).map(describeRecord)).toEqual(["begin", "intent small"]);
    await j.close();
  });

  it("a write that gets ENOSPC at once fails, changes nothing, and the journal works once there is space", async () => {
    const mnt = mountTmpfs("enospc", "64k");
    const filler = fillUp(mnt);
    const j = new FileJournal(path.join(mnt, "journal"));
    const e = await j.append(begin("t2"), true).catch((x: unknown) => x);
    expect(isJournalError(e) && e.code).toBe("io");
    expect(String(e)).toContain("ENOSPC");
    expect(statSync(j.segmentPath).size).toBe(0);
    filler.remove();
    await j.append(begin("t3"), true);
    expect(linesOf(j.segmentPath).map((r) => r.tx)).toEqual(["t3"]);
    await j.close();
  });

  it("a saga whose intent does not fit acquires nothing and fails with the journal's error", async () => {
    const mnt = mountTmpfs("saga-full", "64k");
    const j = new FileJournal(path.join(mnt, "journal"));
    await j.append(begin("warm-up"), true);
    const filler = fillUp(mnt);
    filler.leave(1);
    const log: string[] = [];
    const r = await saga("s")
      .resource("a", fakeAdapter("fake", log), { spec: () => ({ id: `a-${"x".repeat(12_000)}` }) })
      .run(undefined, { journal: j });
    const cause = r._unsafeUnwrapErr().cause;
    expect(isJournalError(cause) && cause.code, String(cause)).toBe("io");
    expect(
      log.map((l) => l.slice(0, 12)),
      "nothing acquired under an intent the disk did not take whole",
    ).toEqual([]);
    filler.remove();
    await j.flush().catch(() => undefined);
    expect(linesOf(j.segmentPath).every((rec) => rec.t !== "intent")).toBe(true);
    await j.close();
  });

  it("a compaction whose copy the disk cuts short leaves the segment whole; with space it compacts", async () => {
    const mnt = mountTmpfs("compact-full", "2m");
    const copies: number[] = [];
    const j = new FileJournal(path.join(mnt, "journal"), {
      beforeWrite: (bytes, target) => void (target === "copy" && copies.push(bytes)),
    });
    // A live saga whose records take almost four pages, then finished transactions (1.1 KB a pair)
    // up to just under 1 MiB.
    await j.append(begin("live"), false);
    for (const step of ["a", "b", "c"]) await j.append(intent("live", step, 5000), true);
    const name = "n".repeat(1000);
    let k = 0;
    const finished = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++, k++) {
        void j.append(begin(`done-${k}`, name), false);
        void j.append({ v: 1, tx: `done-${k}`, t: "end" }, false);
      }
      await j.flush();
    };
    while (statSync(j.segmentPath).size < (1 << 20) - 3 * 1024) await finished(1);
    const filler = fillUp(mnt);
    filler.leave(4);
    // Past 1 MiB, mostly dead: compaction copies the 15 KB of live records into 2 or 3 free pages.
    await finished(3);
    expect(
      linesOf(j.segmentPath)
        .filter((r) => r.tx === "live")
        .map(describeRecord),
      "the live saga's records survive a copy cut short",
    ).toEqual(["begin", "intent a", "intent b", "intent c"]);
    expect(copies.length, "the copy was cut short (the rest asked for again, then ENOSPC)").toBe(2);
    expect(readdirSync(path.join(mnt, "journal")), "no copy left behind").toEqual([path.basename(j.segmentPath)]);
    filler.remove();
    await finished(1);
    expect(linesOf(j.segmentPath).map(describeRecord), "compacted once there is space").toEqual([
      "begin",
      "intent a",
      "intent b",
      "intent c",
    ]);
    await j.close();
  });
});
