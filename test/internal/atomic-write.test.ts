// writeAtomic's contract: old or new content, never torn (also across a SIGKILL of the writer),
// exclusive refuses an existing file, the mode is exact, and a failed write leaves no temp file.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { writeAtomic } from "../../src/internal/atomic-write.js";

const fresh = () => mkdtempSync(path.join(os.tmpdir(), "errdefer-atomic-"));
/** Two contents that differ in every byte and are far bigger than one write of a pipe or page. */
const A = "a".repeat(3 << 20);
const B = "b".repeat(2 << 20);

/** The FileHandle prototype, to watch (or shorten) the helper's writes and syncs. */
async function fileHandleProto(dir: string): Promise<Record<string, (...args: never[]) => unknown>> {
  const fh = await open(path.join(dir, "probe"), "w");
  const proto = Object.getPrototypeOf(fh) as Record<string, (...args: never[]) => unknown>;
  await fh.close();
  return proto;
}

afterEach(() => vi.restoreAllMocks());

describe("writeAtomic", () => {
  it("creates and replaces a file; readers only ever see one whole version", async () => {
    const dir = fresh();
    const file = path.join(dir, "f");
    await writeAtomic(file, A);
    let torn = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const text = await readFile(file, "utf8");
        if (text !== A && text !== B) torn++;
      }
    })();
    for (let i = 0; i < 20; i++) await writeAtomic(file, i % 2 === 0 ? B : A, { durability: "crash" });
    reading = false;
    await reader;
    expect(torn).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(A);
    expect(readdirSync(dir)).toEqual(["f"]);
  });

  it("a writer killed by SIGKILL mid-write leaves the old or the new file, never a torn one", async () => {
    const dir = fresh();
    const file = path.join(dir, "f");
    writeFileSync(file, A);
    const helper = path.resolve(import.meta.dirname, "../../src/internal/atomic-write.ts");
    const script = `import { writeAtomic } from ${JSON.stringify(helper)};
      const [a, b] = ["a".repeat(3 << 20), "b".repeat(2 << 20)];
      for (let i = 0; ; i++) {
        await writeAtomic(${JSON.stringify(file)}, i % 2 ? a : b, { durability: "crash" });
        process.stdout.write(".");
      }`;
    for (let kill = 0; kill < 6; kill++) {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        stdio: ["ignore", "pipe", "ignore"],
      });
      const exited = new Promise((resolve) => child.on("exit", resolve));
      // Once it has written a few times, kill it somewhere inside a later write.
      await new Promise<void>((resolve) => {
        let writes = 0;
        child.stdout.on("data", (chunk: Buffer) => {
          writes += chunk.length;
          if (writes >= 2) resolve();
        });
      });
      await sleep(kill * 3);
      child.kill("SIGKILL");
      await exited;
      const text = readFileSync(file, "utf8");
      expect(text === A || text === B).toBe(true);
    }
    // What a killed writer can leave: its temp file, named with its pid for a sweeper.
    for (const name of readdirSync(dir)) expect(name).toMatch(/^f$|^\.f\.\d+-[0-9a-f]{8}\.tmp$/);
  });

  it("exclusive: creates a new file, and refuses an existing one with EEXIST, leaving it and no temp", async () => {
    const dir = fresh();
    const file = path.join(dir, "name");
    await writeAtomic(file, "first", { exclusive: true });
    await expect(writeAtomic(file, "second", { exclusive: true })).rejects.toMatchObject({ code: "EEXIST" });
    expect(readFileSync(file, "utf8")).toBe("first");
    expect(readdirSync(dir)).toEqual(["name"]);
    expect(statSync(file).nlink).toBe(1);
  });

  it("exclusive: of many racing writers exactly one wins", async () => {
    const file = path.join(fresh(), "name");
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => writeAtomic(file, `w${i}`, { exclusive: true })),
    );
    const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    expect(won).toHaveLength(1);
    expect(readFileSync(file, "utf8")).toBe(`w${won[0]}`);
    expect(readdirSync(path.dirname(file))).toEqual(["name"]);
  });

  it("sets the mode exactly, whatever the umask; 0600 by default", async () => {
    const dir = fresh();
    const old = process.umask(0o077);
    try {
      await writeAtomic(path.join(dir, "shared"), "x", { mode: 0o644 });
      await writeAtomic(path.join(dir, "private"), "x");
    } finally {
      process.umask(old);
    }
    expect(statSync(path.join(dir, "shared")).mode & 0o777).toBe(0o644);
    expect(statSync(path.join(dir, "private")).mode & 0o777).toBe(0o600);
  });

  it("continues short writes until every byte is written", async () => {
    const dir = fresh();
    const proto = await fileHandleProto(dir);
    const write = proto.write!;
    let calls = 0;
    vi.spyOn(proto, "write").mockImplementation(function (this: unknown, ...args: never[]) {
      calls++;
      const [buf, off, len, pos] = args as unknown as [Uint8Array, number, number, number];
      return write.call(this, buf as never, off as never, Math.min(len, 4096) as never, pos as never);
    });
    const text = "0123456789".repeat(5000);
    await writeAtomic(path.join(dir, "f"), text);
    expect(calls).toBeGreaterThan(10);
    expect(readFileSync(path.join(dir, "f"), "utf8")).toBe(text);
  });

  it("a failed write rejects, leaves the old file and removes its temp file", async () => {
    const dir = fresh();
    const file = path.join(dir, "f");
    writeFileSync(file, "old");
    const proto = await fileHandleProto(dir);
    vi.spyOn(proto, "write").mockRejectedValue(Object.assign(new Error("no space left"), { code: "ENOSPC" }));
    await expect(writeAtomic(file, "new")).rejects.toMatchObject({ code: "ENOSPC" });
    expect(readFileSync(file, "utf8")).toBe("old");
    expect(readdirSync(dir).sort()).toEqual(["f", "probe"]);
  });

  it("a failed rename rejects and removes its temp file", async () => {
    const dir = fresh();
    mkdirSync(path.join(dir, "taken", "full"), { recursive: true });
    await expect(writeAtomic(path.join(dir, "taken"), "x")).rejects.toMatchObject({ code: expect.any(String) });
    expect(readdirSync(dir)).toEqual(["taken"]);
  });

  it("power-loss (default) fsyncs the file's data and then the directory; crash fsyncs nothing", async () => {
    const dir = fresh();
    const proto = await fileHandleProto(dir);
    const order: string[] = [];
    const { datasync, sync } = proto;
    vi.spyOn(proto, "datasync").mockImplementation(function (this: unknown) {
      order.push("datasync");
      return datasync!.call(this);
    });
    vi.spyOn(proto, "sync").mockImplementation(function (this: unknown) {
      order.push("sync");
      return sync!.call(this);
    });
    await writeAtomic(path.join(dir, "durable"), "x");
    expect(order).toEqual(["datasync", "sync"]);
    order.length = 0;
    await writeAtomic(path.join(dir, "cheap"), "x", { durability: "crash" });
    expect(order).toEqual([]);
  });
});
