// Recovery of damaged and foreign journals: a transaction with an unreadable line of its own (a
// corrupt but parseable commit, a line that is not JSON but names it) is left untouched and
// reported; a newer-format line protects its transaction in every dead segment, and one without a
// readable transaction protects its whole segment; what killed processes leave besides segments
// (compaction copies, atomic-write temps, stale lock copies) is swept.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saga } from "../../src/index.js";
import {
  FileJournal,
  JOURNAL_FORMAT_VERSION,
  MemoryJournal,
  recover,
  type JournalRecord,
} from "../../src/journal/index.js";
import {
  deadIdentity,
  fakeAdapter,
  journalLinesOf,
  liveChild,
  removeTempDirs,
  segmentName,
  tempDir,
  writeSegment,
  type Identity,
} from "../support/journal.js";

afterAll(removeTempDirs);
let dead: Identity;
let otherDead: Identity;
beforeAll(async () => {
  dead = await deadIdentity();
  otherDead = await deadIdentity();
});

/** The lines of a committed saga that acquired `a` and `b` (handed over to its caller). */
async function committedLines(): Promise<string[]> {
  return journalLinesOf((j) =>
    saga("handed")
      .resource("a", fakeAdapter("fake", []), { spec: () => ({ id: "a" }) })
      .resource("b", fakeAdapter("fake", []), { spec: () => ({ id: "b" }) })
      .run(undefined, { journal: j }),
  );
}

/** The lines of a saga killed after acquiring `id-a` (no commit, no end). */
async function abandonedLines(id: string): Promise<string[]> {
  const lines = await journalLinesOf((j) =>
    saga("killed")
      .resource("a", fakeAdapter("fake", []), { spec: () => ({ id: `${id}-a` }) })
      .run(undefined, { journal: j }),
  );
  return lines.filter((l) => !l.includes('"commit"') && !l.includes('"t":"end"'));
}

/** A format version newer than this errdefer reads. */
const NEWER = JOURNAL_FORMAT_VERSION + 1;
/** The files in `dir` (the recovery lock file aside). */
const filesIn = (dir: string): string[] => readdirSync(dir).filter((n) => n !== "recover.lock");
const txOf = (line: string): string => (JSON.parse(line) as JournalRecord).tx;
const text = (lines: readonly string[]): string => lines.map((l) => `${l}\n`).join("");

describe("a transaction with an unreadable line of its own (item 7)", () => {
  it("a corrupt but parseable commit: nothing handed over is released; reported with its tx; kept for a human", async () => {
    const lines = (await committedLines()).filter((l) => !l.includes('"t":"end"'));
    const tx = txOf(lines[0]!);
    const damaged = lines.map((l) => (l.includes('"commit"') ? l.replace(/"held":\[[^\]]*\]/, '"held":"a,b"') : l));
    const dir = tempDir("corrupt-commit");
    const segment = writeSegment(dir, dead, text(damaged));
    const log: string[] = [];
    const j = new FileJournal(dir);
    const report = (await recover(j, [fakeAdapter("fake", log)]))._unsafeUnwrap();
    expect(log, "nothing released").toEqual([]);
    expect(report.transactions).toBe(0);
    expect(report.issues).toEqual([
      expect.objectContaining({ type: "corrupt", source: segment, line: damaged.length, tx }),
    ]);
    expect(readFileSync(segment, "utf8"), "its lines stay where they were").toBe(text(damaged));
    const again = (await recover(j, [fakeAdapter("fake", log)]))._unsafeUnwrap();
    expect(
      again.issues.map((i) => i.type),
      "reported again",
    ).toEqual(["corrupt"]);
    expect(log).toEqual([]);
    await j.close();
    // MemoryJournal.fromLines reads the same way.
    const m = (await recover(MemoryJournal.fromLines(damaged), [fakeAdapter("fake", log)]))._unsafeUnwrap();
    expect(m.transactions).toBe(0);
    expect(m.issues.map((i) => [i.type, i.tx])).toEqual([["corrupt", tx]]);
    expect(log).toEqual([]);
  });

  it("a line that is not JSON but names the transaction: left untouched; the other transactions recovered", async () => {
    const handed = (await committedLines()).filter((l) => !l.includes('"t":"end"'));
    const tx = txOf(handed[0]!);
    const damaged = handed.map((l) => (l.includes('"commit"') ? l.slice(0, -1) : l));
    const other = await abandonedLines("o");
    const dir = tempDir("unparseable");
    const segment = writeSegment(dir, dead, text([...damaged, ...other]));
    const log: string[] = [];
    const j = new FileJournal(dir);
    const report = (await recover(j, [fakeAdapter("fake", log)]))._unsafeUnwrap();
    expect(log, "only the other transaction").toEqual(["release o-a"]);
    expect(report.issues).toEqual([expect.objectContaining({ type: "corrupt", line: damaged.length, tx })]);
    expect(readFileSync(segment, "utf8"), "the damaged transaction's lines are kept").toBe(text(damaged));
    await j.close();
  });
});

describe("newer-format lines (item 6)", () => {
  it("without a readable tx: the whole segment is left untouched, and reported", async () => {
    const lines = [...(await abandonedLines("n")), `{"v":${NEWER},"t":"segment","pidns":"4026531836"}`];
    const dir = tempDir("newer-no-tx");
    const segment = writeSegment(dir, dead, text(lines));
    const log: string[] = [];
    const j = new FileJournal(dir);
    const report = (await recover(j, [fakeAdapter("fake", log)]))._unsafeUnwrap();
    expect(log).toEqual([]);
    expect(report.transactions).toBe(0);
    expect(report.issues).toEqual([expect.objectContaining({ type: "newer-version", source: segment, line: 4 })]);
    expect(readFileSync(segment, "utf8")).toBe(text(lines));
    await j.close();
  });

  it("a newer record in another dead segment protects the transaction's older lines", async () => {
    const old = await abandonedLines("p");
    const tx = txOf(old[0]!);
    const later = `{"v":${NEWER},"tx":"${tx}","t":"moved","to":"elsewhere"}`;
    const dir = tempDir("newer-elsewhere");
    const first = writeSegment(dir, dead, text(old));
    const second = writeSegment(dir, otherDead, text([later]));
    const log: string[] = [];
    const j = new FileJournal(dir);
    const report = (await recover(j, [fakeAdapter("fake", log)]))._unsafeUnwrap();
    expect(log, "the transaction is not touched").toEqual([]);
    expect(report.transactions).toBe(0);
    expect(report.issues.map((i) => [i.type, i.tx])).toEqual([["newer-version", tx]]);
    expect(readFileSync(first, "utf8")).toBe(text(old));
    expect(readFileSync(second, "utf8")).toBe(text([later]));
    await j.close();
  });
});

describe("what killed processes leave besides segments (item 6)", () => {
  it("compaction copies and atomic-write temps of dead writers, and stale lock copies, are swept", async () => {
    const dir = tempDir("sweep");
    const live = liveChild();
    try {
      const deadSegment = segmentName(dead);
      const liveSegment = segmentName(live.identity);
      const leftovers = [
        `${deadSegment}.tmp`,
        `.${deadSegment}.${dead.pid}-0123abcd.tmp`,
        "recover.lock.stale-0123abcd",
      ];
      for (const name of [...leftovers, `${liveSegment}.tmp`, "notes.tmp"])
        writeFileSync(path.join(dir, name), "{}\n", { mode: 0o600 });
      const j = new FileJournal(dir);
      expect((await recover(j, [])).isOk()).toBe(true);
      await j.close();
      for (const name of leftovers) expect(existsSync(path.join(dir, name)), name).toBe(false);
      expect(filesIn(dir).sort(), "a live writer's copy and foreign files stay").toEqual(
        [`${liveSegment}.tmp`, "notes.tmp"].sort(),
      );
    } finally {
      live.child.kill();
      await live.exited;
    }
  });
});
