// Saga behaviour outside the rules: bad builder input, the context at run time, held resources
// handed over on success, and releaseHeld (reverse order, guards, retained ones recoverable).
import { err, ok } from "neverthrow";
import { describe, expect, it, test } from "vitest";
import { MissingAdapterError, releaseHeld, saga, type ResourceAdapter, type StepEvent } from "../../src/index.js";
import { MemoryJournal, recover } from "../../src/journal/index.js";
import { foldTransaction, type JournalRecord } from "../../src/journal/records.js";
import { fakeAdapter } from "../support/journal.js";

/** Calls a builder method with input the types forbid. */
function loose(value: unknown): never {
  return value as never;
}

describe("bad builder input is a TypeError naming the field", () => {
  const adapter = fakeAdapter("fake", []);
  it.each([
    ["an empty saga name", () => saga(""), /saga: name must be a non-empty string/],
    ["a saga name that is not a string", () => saga(loose(42)), /saga: name must be a non-empty string/],
    [
      "an empty step name",
      () => saga("s").step("", { run: () => 1 }),
      /saga "s": a step name must be a non-empty string/,
    ],
    [
      "a step name that is not a string",
      () => saga("s").step(loose(1), { run: () => 1 }),
      /a step name must be a non-empty string/,
    ],
    [
      "the reserved step name input",
      () => saga("s").step("input", { run: () => 1 }),
      /saga "s": step "input": the name is reserved/,
    ],
    [
      "a reserved resource name",
      () => saga("s").resource("input", adapter, { spec: () => ({ id: "x" }) }),
      /step "input": the name is reserved/,
    ],
    [
      "a step name used twice",
      () =>
        saga("s")
          .step("a", { run: () => 1 })
          .step("a", { run: () => 2 }),
      /saga "s": step "a": the name is used twice/,
    ],
    [
      "a resource named like a step",
      () =>
        saga("s")
          .step("a", { run: () => 1 })
          .resource("a", adapter, { spec: () => ({ id: "x" }) }),
      /step "a": the name is used twice/,
    ],
    [
      "a definition that is not an object",
      () => saga("s").step("a", loose(null)),
      /step "a": the definition must be an object/,
    ],
    ["a run that is not a function", () => saga("s").step("a", loose({ run: 1 })), /step "a": run must be a function/],
    ["a missing run", () => saga("s").step("a", loose({})), /step "a": run must be a function/],
    [
      "a compensate that is not a function",
      () => saga("s").step("a", loose({ run: () => 1, compensate: "undo" })),
      /step "a": compensate must be a function/,
    ],
    [
      "a when that is not a function",
      () => saga("s").step("a", loose({ run: () => 1, when: true })),
      /step "a": when must be a function/,
    ],
    [
      "an on that is not error or always",
      () => saga("s").step("a", loose({ run: () => 1, on: "success" })),
      /step "a": on must be "error" or "always"/,
    ],
    [
      "a guard that is not a boolean",
      () => saga("s").step("a", loose({ run: () => 1, guard: "yes" })),
      /step "a": guard must be a boolean/,
    ],
    [
      "a timeoutMs that is not a usable number of ms",
      () => saga("s").resource("r", adapter, loose({ spec: () => ({ id: "x" }), timeoutMs: -1 })),
      /step "r": timeoutMs must be a finite number of ms >= 0, got -1/,
    ],
    [
      "a spec that is not a function",
      () => saga("s").resource("r", adapter, loose({ spec: { id: "x" } })),
      /resource "r": spec must be a function/,
    ],
    [
      "an adapter without a kind",
      () => saga("s").resource("r", loose({}), { spec: () => ({}) }),
      /resource "r": adapter must be a resource adapter/,
    ],
    [
      "an adapter that is null",
      () => saga("s").resource("r", loose(null), { spec: () => ({}) }),
      /resource "r": adapter must be a resource adapter/,
    ],
  ])("%s", (_, build, message) => {
    expect(build).toThrow(TypeError);
    expect(build).toThrow(message);
  });

  it("leaves the builder it was called on usable (builders are immutable)", async () => {
    const base = saga("s").step("a", { run: () => 1 });
    expect(() => base.step("a", { run: () => 2 })).toThrow(TypeError);
    const wider = base.step("b", { run: (ctx) => ctx.a + 1 });
    expect(base.stepNames).toEqual(["a"]);
    expect(wider.stepNames).toEqual(["a", "b"]);
    const r = await wider.run();
    expect(r._unsafeUnwrap().context).toEqual({ input: undefined, a: 1, b: 2 });
  });

  it("refuses bad adapters given to releaseHeld and recover", () => {
    const held = { saga: "s", tx: "t", resources: [] };
    expect(() => releaseHeld(held, [loose({ kind: "" })])).toThrow(/adapters\[0\]\.kind must be a non-empty string/);
    const a = fakeAdapter("fake", []);
    expect(() => releaseHeld(held, [a, a])).toThrow(/kind "fake" is given twice/);
    expect(() => recover(new MemoryJournal(), [{ ...a, release: loose(1) }])).toThrow(
      /\(fake\)\.release must be a function/,
    );
  });

  // Was a bug (fixed): a step named "__proto__" is accepted, but the context is a plain object, so
  // `ctx.__proto__ = output` sets the prototype (or, for a primitive output, does nothing): the
  // output is lost and later steps read Object.prototype. Repro:
  //   (await saga("p").step("__proto__", { run: () => 5 }).run())._unsafeUnwrap().context.__proto__ !== 5
  // Either reserve the name (TypeError) or build the context with Object.defineProperty / a null prototype.
  test("a step named __proto__ is refused or its output kept", async () => {
    let built: unknown;
    try {
      built = saga("p").step("__proto__", { run: () => 5 });
    } catch (e) {
      expect(e).toBeInstanceOf(TypeError);
      return;
    }
    const r = await (built as ReturnType<typeof _proto>).run();
    expect(Object.getOwnPropertyDescriptor(r._unsafeUnwrap().context, "__proto__")?.value).toBe(5);
  });
});

function _proto() {
  return saga("p").step("x", { run: () => 5 });
}

describe("a saga run", () => {
  it("passes each step the input and the earlier outputs (undefined for a skipped step), and returns them", async () => {
    const seen: unknown[] = [];
    const events: StepEvent[] = [];
    const s = saga<{ host: boolean }>("pod")
      .step("a", { run: (ctx) => ok(ctx.input.host ? "host" : "own") })
      .step("netns", { when: (ctx) => !ctx.input.host, run: () => Promise.resolve({ path: "/run/netns/x" }) })
      .step("c", {
        run: (ctx) => {
          seen.push({ ...ctx });
          return ctx.netns?.path ?? "none";
        },
      });
    const host = await s.run({ host: true }, { onStep: (e) => events.push(e) });
    expect(host._unsafeUnwrap().context).toEqual({ input: { host: true }, a: "host", netns: undefined, c: "none" });
    expect(seen[0]).toEqual({ input: { host: true }, a: "host", netns: undefined });
    expect(events.map((e) => `${e.type} ${e.step}`)).toEqual([
      "step:started a",
      "step:succeeded a",
      "step:skipped netns",
      "step:started c",
      "step:succeeded c",
    ]);
    const own = await s.run({ host: false });
    expect(own._unsafeUnwrap().context.c).toBe("/run/netns/x");
  });

  it("fails with the step's error on top, compensating the steps before it in reverse", async () => {
    const log: string[] = [];
    const boom = new Error("boom");
    const r = await saga("s")
      .step("a", { run: () => 1, compensate: (o) => void log.push(`undo a ${o}`) })
      .step("b", { run: () => 2, compensate: (o) => void log.push(`undo b ${o}`) })
      .step("c", { run: () => err(boom), compensate: () => void log.push("undo c") })
      .step("d", { run: () => 4, compensate: () => void log.push("undo d") })
      .run();
    expect(log).toEqual(["undo b 2", "undo a 1"]);
    expect(r._unsafeUnwrapErr().cause).toBe(boom);
    expect(r._unsafeUnwrapErr().message).toMatch(/^boom/);
  });

  it("an observer that throws changes nothing", async () => {
    const r = await saga("s")
      .step("a", { run: () => 1 })
      .run(undefined, {
        onStep: () => {
          throw new Error("observer");
        },
      });
    expect(r._unsafeUnwrap().context.a).toBe(1);
  });

  it("hands over the error-kind resources on success, in acquisition order; always-kind ones are released", async () => {
    const log: string[] = [];
    const fake = fakeAdapter("fake", log);
    const r = await saga("s")
      .resource("a", fake, { spec: () => ({ id: "a" }), guard: true })
      .resource("tmp", fake, { spec: () => ({ id: "tmp" }), on: "always" })
      .resource("b", fake, { spec: () => ({ id: "b" }) })
      .resource("skipped", fake, { spec: () => ({ id: "skipped" }), when: () => false })
      .run();
    const { held, context } = r._unsafeUnwrap();
    expect(log).toEqual(["acquire a", "acquire tmp", "acquire b", "release tmp"]);
    expect(context.a).toEqual({ id: "a", acquired: true });
    expect(context.skipped).toBeUndefined();
    expect(held.saga).toBe("s");
    expect(held.resources).toEqual([
      { step: "a", kind: "fake", guard: true, description: { id: "a", acquired: true } },
      { step: "b", kind: "fake", guard: false, description: { id: "b", acquired: true } },
    ]);
  });

  it("a registerFirst resource whose acquisition fails is released by its plan", async () => {
    const log: string[] = [];
    const released: unknown[] = [];
    const fake = fakeAdapter("fake", log, { failAcquire: new Set(["b"]) });
    const spy: ResourceAdapter<{ id: string }, unknown, { id: string; acquired: boolean }, Error> = {
      ...fake,
      release: (d, c) => {
        released.push(d);
        return fake.release(d, c);
      },
    };
    const r = await saga("s")
      .resource("a", spy, { spec: () => ({ id: "a" }) })
      .resource("b", spy, { spec: () => ({ id: "b" }), registerFirst: true })
      .run();
    expect(r.isErr()).toBe(true);
    expect(released).toEqual([
      { id: "b", acquired: false },
      { id: "a", acquired: true },
    ]);
  });
});

describe("releaseHeld", () => {
  async function held3(journal?: MemoryJournal) {
    const log: string[] = [];
    const r = await saga("pod")
      .resource("a", fakeAdapter("fake", log), { spec: () => ({ id: "a" }), guard: true })
      .resource("b", fakeAdapter("fake", log), { spec: () => ({ id: "b" }) })
      .resource("c", fakeAdapter("fake", log), { spec: () => ({ id: "c" }) })
      .run(undefined, journal === undefined ? {} : { journal });
    return r._unsafeUnwrap().held;
  }

  it("releases what a saga handed over in reverse order", async () => {
    const held = await held3();
    const log: string[] = [];
    const r = await releaseHeld(held, [fakeAdapter("fake", log)]);
    expect(r.isOk()).toBe(true);
    expect(log).toEqual(["release c", "release b", "release a"]);
  });

  it("a failing release leaves the guarded earlier one retained, reported, and recoverable by recover", async () => {
    const journal = new MemoryJournal();
    const held = await held3(journal);
    const log: string[] = [];
    const failing = new Set(["b"]);
    const adapter = fakeAdapter("fake", log, { failRelease: failing });
    const r = await releaseHeld(held, [adapter], { journal });
    const e = r._unsafeUnwrapErr();
    expect(log).toEqual(["release c", "release-failed b"]);
    expect(e.cleanupFailures.map((f) => f.label)).toEqual(["b"]);
    expect((e.cleanupFailures[0]!.error as Error).message).toBe("release b failed");
    expect(e.retained).toEqual([{ label: "a" }]);
    expect(e.message).toContain('"a"');

    // The journal keeps b (release-failed) and a (retained); a later recover finishes the job.
    const records = journal.lines().map((l) => JSON.parse(l) as JournalRecord);
    const releaseTx = records.find((x) => x.t === "begin" && x.name === "release:pod")!.tx;
    expect(
      foldTransaction(
        releaseTx,
        records.filter((x) => x.tx === releaseTx),
      ).resources.map((x) => [x.step, x.status]),
    ).toEqual([
      ["a", "retained"],
      ["b", "release-failed"],
      ["c", "released"],
    ]);
    failing.clear();
    const report = (await recover(journal, [adapter]))._unsafeUnwrap();
    expect(log.slice(2)).toEqual(["release b", "release a"]);
    expect(report.released.map((x) => [x.saga, x.step])).toEqual([
      ["release:pod", "b"],
      ["release:pod", "a"],
    ]);
    expect(report.failed).toEqual([]);
    expect((await recover(journal, [adapter]))._unsafeUnwrap().transactions).toBe(0);
  });

  it("a kind without an adapter is a MissingAdapterError failure, and the guarded ones before it are retained", async () => {
    const journal = new MemoryJournal();
    const held = await held3(journal);
    const other = fakeAdapter("other", []);
    const r = await releaseHeld(held, [other], { journal });
    const e = r._unsafeUnwrapErr();
    expect(e.cleanupFailures.map((f) => f.label)).toEqual(["c", "b"]);
    expect(e.cleanupFailures[0]!.error).toBeInstanceOf(MissingAdapterError);
    expect((e.cleanupFailures[0]!.error as MissingAdapterError).kind).toBe("fake");
    expect(e.retained).toEqual([{ label: "a" }]);
    const log: string[] = [];
    const report = (await recover(journal, [fakeAdapter("fake", log)]))._unsafeUnwrap();
    expect(log).toEqual(["release c", "release b", "release a"]);
    expect(report.released).toHaveLength(3);
  });

  it("with a journal that cannot be written, releases nothing and fails (the caller still owns everything)", async () => {
    const held = await held3();
    const broken = new MemoryJournal();
    broken.append = () => Promise.reject(new Error("ENOSPC"));
    const log: string[] = [];
    const r = await releaseHeld(held, [fakeAdapter("fake", log)], { journal: broken });
    expect(r._unsafeUnwrapErr().cause).toEqual(new Error("ENOSPC"));
    expect(log).toEqual([]);
  });
});
