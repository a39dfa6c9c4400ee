// Type tests for DAG sagas (R13): a step's context holds the input and the outputs of the steps it
// depends on, directly or transitively, and nothing else: reading a sibling that may not have run
// yet does not compile. `after` names only earlier-declared steps. The run's success still holds
// every output, and a chain (no `after`) is typed exactly as before.
import { ok, type Result } from "neverthrow";
import { describe, expectTypeOf, it } from "vitest";
import { saga, type ResourceAdapter, type SagaSuccess } from "../../src/index.js";

interface Lease {
  readonly ip: string;
}
declare function allocate(n: number): Result<Lease, "quota">;
declare const disk: ResourceAdapter<{ size: number }, { readonly dev: string }, { dev: string }, "enospc">;

describe("a DAG saga's step context", () => {
  it("holds the input and the outputs of the steps it depends on, transitively", () => {
    saga<{ pod: string }>("pod")
      .step("name", { run: (ctx) => `ns-${ctx.input.pod}` })
      .step("netns", { after: ["name"], run: (ctx) => ({ path: `/run/netns/${ctx.name}` }) })
      .step("record", { after: ["name"], run: () => 7 })
      .resource("disk", disk, { after: [], spec: () => ({ size: 1 }) })
      .step("cni", {
        after: ["netns"],
        run: (ctx) => {
          // netns directly, name through netns.
          expectTypeOf(ctx).toEqualTypeOf<
            { readonly input: { pod: string } } & Pick<
              { readonly input: { pod: string } } & { readonly name: string } & {
                readonly netns: { path: string };
              },
              "name" | "netns"
            >
          >();
          expectTypeOf(ctx.netns).toEqualTypeOf<{ path: string }>();
          expectTypeOf(ctx.name).toEqualTypeOf<string>();
          // @ts-expect-error: record is a sibling: it may not have run yet
          void ctx.record;
          // @ts-expect-error: disk is a sibling too
          void ctx.disk;
          return allocate(1);
        },
        compensate: (lease, _cleanup, ctx) => {
          expectTypeOf(lease).toEqualTypeOf<Lease>();
          expectTypeOf(ctx.netns).toEqualTypeOf<{ path: string }>();
          // @ts-expect-error: the compensation sees what the step saw, no sibling
          void ctx.record;
        },
      })
      .step("ready", {
        after: ["cni", "record", "disk"],
        when: (ctx) => ctx.record > 0,
        run: (ctx) => {
          expectTypeOf(ctx.cni).toEqualTypeOf<Lease>();
          expectTypeOf(ctx.record).toEqualTypeOf<number>();
          expectTypeOf(ctx.disk).toEqualTypeOf<{ readonly dev: string }>();
          expectTypeOf(ctx.name).toEqualTypeOf<string>();
          return ok(true);
        },
      });
  });

  it("offers only the input to a step with `after: []`, and to the steps of a resource's spec likewise", () => {
    saga<number>("s")
      .step("a", { run: () => 1 })
      .step("b", {
        after: [],
        run: (ctx) => {
          expectTypeOf(ctx).toEqualTypeOf<{ readonly input: number }>();
          // @ts-expect-error: b does not depend on a
          void ctx.a;
          return "b";
        },
      })
      .resource("d", disk, {
        after: ["b"],
        spec: (ctx) => {
          expectTypeOf(ctx.b).toEqualTypeOf<string>();
          // @ts-expect-error: d does not depend on a
          void ctx.a;
          return { size: ctx.input };
        },
      });
  });

  it("without `after` depends on the step just before it: a chain sees every earlier output", () => {
    saga<number>("s")
      .step("a", { after: [], run: () => 1 })
      .step("b", { after: [], run: () => "b" })
      .step("c", {
        run: (ctx) => {
          // c follows b only; a is b's sibling, so not c's either.
          expectTypeOf(ctx.b).toEqualTypeOf<string>();
          // @ts-expect-error: a is not a dependency of b, hence not of c
          void ctx.a;
          return 3;
        },
      });
  });

  it("keeps every output in the run's success value", async () => {
    const r = await saga<number>("s")
      .step("a", { run: () => 1 })
      .step("b", { after: [], run: () => "b" })
      .run(1, { concurrency: 2 });
    if (r.isOk()) {
      expectTypeOf(r.value).toEqualTypeOf<
        SagaSuccess<{ readonly input: number } & { readonly a: number } & { readonly b: string }>
      >();
    }
  });

  it("names only earlier-declared steps in `after`", () => {
    saga("s")
      .step("a", { run: () => 1 })
      // @ts-expect-error: no step "zzz" was declared before
      .step("b", { after: ["zzz"], run: () => 2 });
    saga("s")
      // @ts-expect-error: a step cannot depend on itself or a later one
      .step("a", { after: ["a"], run: () => 1 });
  });
});
