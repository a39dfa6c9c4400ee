// The engine's side of R12: cleanups that name what they were built on (dependsOn) unwind as a
// graph, within TransactionOptions.concurrency; bad input is a TypeError naming the argument. The
// random graphs are checked through sagas (test/saga/dag.property.test.ts).
import { err, ok } from "neverthrow";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { transaction, type CleanupHandle } from "../../src/index.js";

const wait = (ms: number, log: string[], what: string): Promise<void> =>
  new Promise((resolve) => {
    log.push(`start ${what}`);
    setTimeout(() => {
      log.push(`end ${what}`);
      resolve();
    }, ms);
  });

describe("dependsOn", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs independent cleanups at once and each only after those built on it", async () => {
    const log: string[] = [];
    const t0 = Date.now();
    const run = transaction((tx) => {
      const a = tx.errdefer(() => wait(10, log, "a"), { label: "a" });
      tx.errdefer(() => wait(10, log, "b"), { label: "b", dependsOn: [] });
      tx.errdefer(() => wait(5, log, "c"), { label: "c", dependsOn: [a] });
      return err("e");
    });
    await vi.runAllTimersAsync();
    expect((await run).isErr()).toBe(true);
    expect(log).toEqual(["start c", "start b", "end c", "start a", "end b", "end a"]);
    expect(Date.now() - t0).toBe(15);
  });

  it("bounds how many run at once by concurrency", async () => {
    const log: string[] = [];
    const t0 = Date.now();
    const run = transaction(
      (tx) => {
        for (const n of ["a", "b", "c"]) tx.defer(() => wait(10, log, n), { label: n, dependsOn: [] });
        return ok(1);
      },
      { concurrency: 2 },
    );
    await vi.runAllTimersAsync();
    expect((await run).isOk()).toBe(true);
    expect(Date.now() - t0).toBe(20);
  });

  it("retains a guarded cleanup only behind a failure built on it", async () => {
    const r = await transaction((tx) => {
      const a = tx.errdefer(() => undefined, { label: "a", guard: true });
      const b = tx.errdefer(() => undefined, { label: "b", guard: true, dependsOn: [] });
      tx.errdefer(
        () => {
          throw new Error("c failed");
        },
        { label: "c", dependsOn: [a] },
      );
      void b;
      return err("e");
    });
    const e = r._unsafeUnwrapErr();
    expect(e.retained.map((x) => x.label)).toEqual(["a"]);
    expect(e.cleanupFailures.map((f) => f.label)).toEqual(["c"]);
  });
});

describe("bad input is a TypeError naming the argument", () => {
  it("a dependsOn that is not an array of handles", async () => {
    const r = transaction((tx) => {
      expect(() => tx.defer(() => undefined, { dependsOn: "a" as never })).toThrow(
        /tx.defer: options.dependsOn must be an array of cleanup handles/,
      );
      expect(() => tx.defer(() => undefined, { dependsOn: [{ label: "x", dismiss: () => true }] })).toThrow(
        /tx.defer: options.dependsOn\[0\] must be a handle returned by registering a cleanup/,
      );
      return ok(1);
    });
    expect((await r).isOk()).toBe(true);
  });

  it("a handle of another transaction", async () => {
    let foreign: CleanupHandle | undefined;
    await transaction((tx) => {
      foreign = tx.defer(() => undefined, { label: "elsewhere" });
      return ok(1);
    });
    const r = transaction((tx) => {
      expect(() => tx.defer(() => undefined, { label: "here", dependsOn: [foreign!] })).toThrow(
        /cleanup "here": options.dependsOn names "elsewhere", which is not an earlier cleanup of this transaction/,
      );
      return ok(1);
    });
    expect((await r).isOk()).toBe(true);
  });

  it("a concurrency that is not a positive integer", () => {
    expect(() => transaction(() => ok(1), { concurrency: 1.5 })).toThrow(
      /transaction: options.concurrency must be a positive integer, got 1.5/,
    );
  });
});
