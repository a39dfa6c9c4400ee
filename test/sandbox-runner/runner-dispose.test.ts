// Runner is AsyncDisposable: `await using runner = await Runner.open(...)` closes it (journal,
// reserve, the state dir's lock) when the block is left, by a return or a throw.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Runner } from "../../examples/sandbox-runner/runner/index.js";
import { runPrefix } from "../support/run-prefix.js";

const work = mkdtempSync(path.join(os.tmpdir(), `${runPrefix}dispose-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const options = {
  stateDir: path.join(work, "state"),
  netnsDir: path.join(work, "netns"),
  prefix: `${runPrefix}d-`,
  // Short: a lock still held after the block is an error here, not a wait.
  lockWaitMs: 300,
};

describe("Runner [Symbol.asyncDispose]", () => {
  it("closes the runner when an `await using` block is left, so the state dir's lock is free again", async () => {
    {
      await using runner = await Runner.open(options);
      expect(runner.layout.root).toBe(options.stateDir);
    }
    await using again = await Runner.open(options);
    expect(again.layout.root).toBe(options.stateDir);
  });

  it("closes it when the block throws too", async () => {
    const failing = async (): Promise<void> => {
      await using runner = await Runner.open(options);
      void runner;
      throw new Error("verb failed");
    };
    await expect(failing()).rejects.toThrow("verb failed");
    const next = await Runner.open(options);
    await next[Symbol.asyncDispose]();
  });
});
