// A journal writer in another PID namespace (a sidecar container sharing the journal dir), for
// real: `unshare --pid --fork --mount-proc` runs a saga that acquires a resource and holds. Its
// PID (1 in there) means another process here, so a recover on the host that judged it by
// /proc/<pid> would take it for dead and release its live resource. It must leave it alone while
// it runs (and after: it cannot tell), and adopt it only when told that other PID namespaces are
// dead. Root (a PID namespace needs CAP_SYS_ADMIN); with CI=true a missing unshare fails the run.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, expect, it } from "vitest";
import { FileJournal, recover, type FileJournalOptions } from "../../src/journal/index.js";
import { fakeAdapter, removeTempDirs, tempDir } from "../support/journal.js";
import { describeRoot } from "../support/root.js";

const writerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "pidns-writer.ts");

describeRoot("a journal writer in another PID namespace (root)", () => {
  const started: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    }
  });
  afterAll(removeTempDirs);

  /** Starts the writer as PID 1 of a new PID namespace; resolves once its intent is durable. */
  async function startWriter(dir: string): Promise<{ child: ChildProcess; pid: number; segment: string }> {
    // --kill-child: SIGKILL to unshare takes its child, the namespace's init, and so the namespace.
    const args = ["--pid", "--fork", "--mount-proc", "--kill-child", process.execPath];
    const child = spawn("unshare", [...args, "--conditions=source", "--import", "tsx", writerScript, dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.push(child);
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += String(d)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done === true) throw new Error(`the writer ended before writing: ${stderr}`);
    return { child, ...(JSON.parse(first.value) as { pid: number; segment: string }) };
  }

  it("its live saga is not recovered from the host; once it is gone, only foreignPidNamespaces: dead adopts it", async () => {
    const dir = tempDir("pidns");
    const writer = await startWriter(dir);
    expect(writer.pid, "PID 1 of its namespace: another process here").toBe(1);
    const segment = path.join(dir, writer.segment);
    const log: string[] = [];
    const adapter = fakeAdapter("fake", log);
    const recoverHere = async (options?: FileJournalOptions) => {
      const journal = new FileJournal(dir, options);
      try {
        return (await recover(journal, [adapter]))._unsafeUnwrap();
      } finally {
        await journal.close();
      }
    };

    const whileAlive = await recoverHere();
    expect(whileAlive.transactions, "the live writer's saga taken for abandoned").toBe(0);
    expect(log, "the live writer's resource released under it").toEqual([]);
    expect(existsSync(segment)).toBe(true);
    expect(writer.segment).toMatch(/^1-\d+-ns\d+-boot[0-9a-f]{32}-[0-9a-f]{8}\.jsonl$/);

    writer.child.kill("SIGKILL");
    await once(writer.child, "exit");
    // Dead now, but nothing here can tell: still another namespace's, still left alone.
    const after = await recoverHere();
    expect(after.transactions).toBe(0);
    expect(log).toEqual([]);

    const told = await recoverHere({ foreignPidNamespaces: "dead" });
    expect(told.transactions).toBe(1);
    expect(log).toEqual(["release sidecar-a"]);
    expect(existsSync(segment), "adopted: the writer's segment is gone").toBe(false);
    expect(readdirSync(dir).filter((n) => n.endsWith(".jsonl"))).toEqual([]);
  }, 30_000);
});
