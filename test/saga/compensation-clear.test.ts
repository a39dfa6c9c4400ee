// A saga's compensation cannot clear retErr (R11, issue 15 item 14): a saga is Ok only when every
// step succeeded, so a clear after a failed step (Ok with nothing to hand over) or after a rollback
// began (handing over what was released) is refused; the refusal is that compensation's failure.
import { err } from "neverthrow";
import { describe, expect, test } from "vitest";
import { saga } from "../../src/index.js";
import { MemoryJournal } from "../../src/journal/index.js";
import { fakeAdapter } from "../support/journal.js";

describe("a saga's compensation calling clearRetErr", () => {
  test("after a failed step: Err with the step's error, the refusal recorded, the rollback goes on", async () => {
    const log: string[] = [];
    const boom = new Error("step b failed");
    const r = await saga("s")
      .resource("a", fakeAdapter("fake", log), { spec: () => ({ id: "a" }) })
      .step("swallow", { run: () => 1, compensate: (_, c) => c.clearRetErr() })
      .step("b", { run: () => err(boom) })
      .run(undefined, { journal: new MemoryJournal() });
    const e = r._unsafeUnwrapErr();
    expect(e.cause).toBe(boom);
    expect(e.cleanupFailures.map((f) => f.label)).toEqual(["swallow"]);
    expect(e.cleanupFailures[0]!.error).toBeInstanceOf(TypeError);
    expect((e.cleanupFailures[0]!.error as Error).message).toMatch(/saga's compensation \("swallow"\)/);
    expect(log).toEqual(["acquire a", "release a"]);
  });

  test("after an on-always compensation set retErr: nothing is handed over", async () => {
    const log: string[] = [];
    const reason = new Error("post says no");
    const r = await saga("s")
      .resource("a", fakeAdapter("fake", log), { spec: () => ({ id: "a" }) })
      .step("swallow", { run: () => 1, on: "always", compensate: (_, c) => c.clearRetErr() })
      .step("post", { run: () => 1, on: "always", compensate: (_, c) => c.setRetErr(reason) })
      .run();
    const e = r._unsafeUnwrapErr();
    expect(e.cause).toBe(reason);
    expect(e.cleanupFailures.map((f) => f.label)).toEqual(["swallow"]);
    expect(log).toEqual(["acquire a", "release a"]);
  });
});
