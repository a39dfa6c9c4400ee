// What a saga hands over, as data: adapters describe a resource with its plan at hand (so the
// resource need not carry its identity), and a `Held` read back from JSON is checked by parseHeld,
// which names the field that is wrong.
import { describe, expect, it } from "vitest";
import { isInvalidHeldError, parseHeld, saga, type Held, type ResourceAdapter } from "../../src/index.js";
import { MemoryJournal } from "../../src/journal/index.js";

/** A handle that knows nothing of its identity, like a socket or a child process. */
class Handle {
  closed = false;
}

type Plan = { readonly id: string };

function handleAdapter(seen: unknown[][]): ResourceAdapter<{ id: string }, Handle, Plan & { readonly open: boolean }> {
  return {
    kind: "handle",
    plan: ({ id }) => ({ id, open: false }),
    acquire: () => new Handle(),
    // The identity comes from the plan, the state from the resource.
    describe: (handle, plan) => {
      seen.push([handle, plan]);
      return { id: plan.id, open: !handle.closed };
    },
    release: () => undefined,
  };
}

describe("describe(resource, plan)", () => {
  it("receives the plan the resource was acquired for, and its description is what is held", async () => {
    const seen: unknown[][] = [];
    const r = await saga("s")
      .resource("h", handleAdapter(seen), { spec: () => ({ id: "h-1" }) })
      .run();
    expect(r.isOk()).toBe(true);
    const held = r._unsafeUnwrap().held;
    expect(seen).toHaveLength(1);
    expect(seen[0]![0]).toBeInstanceOf(Handle);
    expect(seen[0]![1]).toEqual({ id: "h-1", open: false });
    expect(held.resources[0]!.description).toEqual({ id: "h-1", open: true });
  });

  it("describes the acquired resource with its plan for a registerFirst release on rollback too", async () => {
    const seen: unknown[][] = [];
    const released: unknown[] = [];
    const adapter = { ...handleAdapter(seen), release: (d: unknown) => void released.push(d) };
    const r = await saga("s")
      .resource("h", adapter, { spec: () => ({ id: "h-2" }), registerFirst: true })
      .step("fail", {
        run: () => {
          throw new Error("later step failed");
        },
      })
      .run(undefined, { journal: new MemoryJournal() });
    expect(r.isErr()).toBe(true);
    expect(released).toEqual([{ id: "h-2", open: true }]);
    expect(seen.every(([, plan]) => (plan as Plan).id === "h-2")).toBe(true);
  });

  it("still takes a describe of one parameter", () => {
    const adapter: ResourceAdapter<{ id: string }, Plan, Plan> = {
      kind: "one-arg",
      plan: ({ id }) => ({ id }),
      acquire: (plan) => plan,
      describe: (resource) => resource,
      release: () => undefined,
    };
    expect(adapter.describe({ id: "x" }, { id: "x" })).toEqual({ id: "x" });
  });
});

const good: Held = {
  saga: "run-pod",
  tx: "tx-1",
  resources: [
    { step: "name", kind: "sandbox-name", guard: false, description: { key: "k", id: "i" } },
    { step: "netns", kind: "netns", guard: true, description: { dir: "/run/netns", name: "x" }, after: ["name"] },
    { step: "note", kind: "note", guard: false, description: [1, "two", null, true, { n: [] }] },
  ],
};

describe("parseHeld", () => {
  it("returns a Held read back from JSON as it was written", () => {
    const r = parseHeld(JSON.parse(JSON.stringify(good)));
    expect(r.isOk() && r.value).toEqual(good);
  });

  const resource = good.resources[0]!;
  const withResource = (r: unknown): unknown => ({ ...good, resources: [r] });
  it.each<[string, unknown, string]>([
    ["not an object", "held", "held must be an object"],
    ["an array", [], "held must be an object"],
    ["saga missing", { tx: "t", resources: [] }, "held.saga must be a string"],
    ["tx a number", { saga: "s", tx: 7, resources: [] }, "held.tx must be a non-empty string"],
    ["resources not an array", { saga: "s", tx: "t", resources: {} }, "held.resources must be an array"],
    ["a resource that is null", withResource(null), "held.resources[0] must be an object"],
    ["step empty", withResource({ ...resource, step: "" }), "held.resources[0].step must be a non-empty string"],
    [
      "kind missing",
      withResource({ ...resource, kind: undefined }),
      "held.resources[0].kind must be a non-empty string",
    ],
    ["guard a string", withResource({ ...resource, guard: "yes" }), "held.resources[0].guard must be a boolean"],
    ["description missing", withResource({ step: "a", kind: "k", guard: false }), "held.resources[0].description"],
    [
      "description not JSON",
      withResource({ ...resource, description: { at: Number.NaN } }),
      "held.resources[0].description.at must be JSON",
    ],
    ["after not an array", withResource({ ...resource, after: "name" }), "held.resources[0].after must be an array"],
    [
      "after naming a later step",
      { ...good, resources: [{ ...resource, after: ["netns"] }, good.resources[1]] },
      'held.resources[0].after[0] names "netns", which is not an earlier resource',
    ],
    ["a step twice", { ...good, resources: [resource, resource] }, 'held.resources[1].step "name" is given twice'],
  ])("%s: an InvalidHeldError naming the field", (_, input, message) => {
    const r = parseHeld(input);
    expect(r.isErr()).toBe(true);
    const e = r._unsafeUnwrapErr();
    expect(e).toBeInstanceOf(TypeError);
    expect(isInvalidHeldError(e)).toBe(true);
    expect(e.message).toContain(message);
    expect(message).toContain(e.field);
  });
});
