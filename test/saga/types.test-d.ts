// Type tests for sagas: the context is typed step by step (no casts in user code), `when` makes an
// output optional, Result-returning runs and adapters add their errors to the saga's error union,
// a registerFirst compensation may get `undefined`, and misuse does not compile.
import { err, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import { describe, expectTypeOf, it } from "vitest";
import { saga, type Held, type ResourceAdapter, type SagaSuccess, type TransactionError } from "../../src/index.js";

class QuotaError extends Error {
  readonly kind = "quota";
}
class NetError extends Error {
  readonly kind = "net";
}
interface Lease {
  readonly ip: string;
}
declare const flag: boolean;
declare function allocate(n: number): Result<Lease, QuotaError>;
declare function connect(): ResultAsync<{ readonly fd: number }, NetError>;
declare const disk: ResourceAdapter<{ size: number }, { readonly dev: string }, { dev: string }, "enospc">;

describe("saga() context inference", () => {
  it("types each step's context from the input and the earlier outputs, unwrapping Promises and Results", () => {
    saga<{ pod: string }>("run-pod")
      .step("name", {
        run: (ctx) => {
          expectTypeOf(ctx).toEqualTypeOf<{ readonly input: { pod: string } }>();
          return `ns-${ctx.input.pod}`;
        },
      })
      .step("count", { run: async () => 3 })
      .step("lease", {
        run: (ctx) => {
          expectTypeOf(ctx.name).toEqualTypeOf<string>();
          expectTypeOf(ctx.count).toEqualTypeOf<number>();
          return allocate(ctx.count);
        },
        compensate: (lease) => {
          expectTypeOf(lease).toEqualTypeOf<Lease>();
        },
      })
      .step("conn", { run: () => connect() })
      .step("last", {
        run: (ctx) => {
          expectTypeOf(ctx.lease).toEqualTypeOf<Lease>();
          expectTypeOf(ctx.conn).toEqualTypeOf<{ readonly fd: number }>();
          return ok(ctx.lease.ip);
        },
      });
  });

  it("infers the run's success: the context and the held record", async () => {
    const s = saga<number>("s")
      .step("a", { run: (ctx) => ctx.input + 1 })
      .step("b", { run: (ctx) => okAsync(String(ctx.a)) });
    const r = await s.run(1);
    if (r.isOk()) {
      expectTypeOf(r.value).toEqualTypeOf<
        SagaSuccess<{ readonly input: number } & { readonly a: number } & { readonly b: string }>
      >();
      expectTypeOf(r.value.context.b).toEqualTypeOf<string>();
      expectTypeOf(r.value.held).toEqualTypeOf<Held>();
    }
  });

  it("makes a `when` step's output `O | undefined`", () => {
    saga<{ hostNetwork: boolean }>("s")
      .step("netns", { when: (ctx) => !ctx.input.hostNetwork, run: () => ok({ path: "/run/netns/x" }) })
      .resource("disk", disk, { when: () => flag, spec: () => ({ size: 1 }) })
      .step("use", {
        run: (ctx) => {
          expectTypeOf(ctx.netns).toEqualTypeOf<{ path: string } | undefined>();
          expectTypeOf(ctx.disk).toEqualTypeOf<{ readonly dev: string } | undefined>();
          return ctx.netns?.path ?? "host";
        },
      });
  });

  it("types a resource step's output as the adapter's resource and its spec from the context", () => {
    saga("s")
      .step("size", { run: () => 10 })
      .resource("disk", disk, {
        spec: (ctx) => {
          expectTypeOf(ctx.size).toEqualTypeOf<number>();
          return { size: ctx.size };
        },
      })
      .step("mount", {
        run: (ctx) => {
          expectTypeOf(ctx.disk).toEqualTypeOf<{ readonly dev: string }>();
          return ctx.disk.dev;
        },
      });
  });

  it("gives a registerFirst compensation `O | undefined` (the run may have failed)", () => {
    saga("s")
      .step("cni", {
        registerFirst: true,
        run: () => allocate(1),
        compensate: (lease) => {
          expectTypeOf(lease).toEqualTypeOf<Lease | undefined>();
        },
      })
      .step("plain", {
        run: () => allocate(1),
        compensate: (lease, cleanup, ctx) => {
          expectTypeOf(lease).toEqualTypeOf<Lease>();
          expectTypeOf(cleanup.retErr).toEqualTypeOf<unknown>();
          expectTypeOf(cleanup.signal).toEqualTypeOf<AbortSignal>();
          expectTypeOf(ctx.cni).toEqualTypeOf<Lease>();
        },
      });
  });
});

describe("saga() error inference", () => {
  it("unions the errors of Result-returning runs and of adapters; throwing runs add none", async () => {
    const s = saga("s")
      .step("lease", { run: () => allocate(1) })
      .step("conn", { run: () => connect() })
      .resource("disk", disk, { spec: () => ({ size: 1 }) })
      .step("throws", {
        run: (): number => {
          throw new Error("untyped");
        },
      });
    const r = await s.run();
    if (r.isErr()) {
      expectTypeOf(r.error).toEqualTypeOf<TransactionError<QuotaError | NetError | "enospc">>();
    }
  });

  it("narrows the cause to the typed errors only through isBodyError(); a thrown value stays unknown", async () => {
    const r = await saga("s")
      .step("lease", { run: () => allocate(1) })
      .resource("disk", disk, { spec: () => ({ size: 1 }) })
      .step("throws", {
        run: (): number => {
          throw new Error("untyped");
        },
      })
      .run();
    if (r.isErr()) {
      const e = r.error;
      expectTypeOf(e.bodyError).toEqualTypeOf<QuotaError | "enospc" | undefined>();
      if (e.isBodyError()) {
        expectTypeOf(e.cause).toEqualTypeOf<QuotaError | "enospc">();
        expectTypeOf(e.origin).toEqualTypeOf<"err">();
      } else {
        expectTypeOf(e.cause).toEqualTypeOf<unknown>();
        expectTypeOf(e.origin).toEqualTypeOf<"err" | "throw" | "cleanup" | "set">();
      }
    }
  });

  it("gives a saga whose runs can only throw no body error: isBodyError() narrows the cause to never", async () => {
    const r = await saga("s")
      .step("a", {
        run: (): number => {
          throw new Error("untyped");
        },
      })
      .run();
    if (r.isErr()) {
      expectTypeOf(r.error.bodyError).toEqualTypeOf<undefined>();
      if (r.error.isBodyError()) expectTypeOf(r.error.cause).toEqualTypeOf<never>();
      else expectTypeOf(r.error.cause).toEqualTypeOf<unknown>();
    }
  });

  it("has no error type when no run can return an err", () => {
    const r = saga("s")
      .step("a", { run: () => 1 })
      .run();
    expectTypeOf(r).toEqualTypeOf<
      ResultAsync<SagaSuccess<{ readonly input: void } & { readonly a: number }>, TransactionError<never>>
    >();
  });

  it("infers the union of a run returning ok or err", () => {
    const r = saga("s")
      .step("a", { run: () => (flag ? ok(1) : err("busy" as const)) })
      .run();
    expectTypeOf(r).toEqualTypeOf<
      ResultAsync<SagaSuccess<{ readonly input: void } & { readonly a: number }>, TransactionError<"busy">>
    >();
  });
});

describe("saga() misuse does not compile", () => {
  it("rejects a field no earlier step produced, a wrong field type and a wrong input", () => {
    saga<{ pod: string }>("s")
      .step("a", { run: () => 1 })
      .step("b", {
        run: (ctx) => {
          // @ts-expect-error: no step is called "c"
          void ctx.c;
          // @ts-expect-error: a is a number
          const s: string = ctx.a;
          // @ts-expect-error: the input has no field "name"
          void ctx.input.name;
          return s;
        },
      });
    const s = saga<{ pod: string }>("s").step("a", { run: () => 1 });
    // @ts-expect-error: the input is { pod: string }
    void s.run({ pod: 1 });
  });

  it("rejects a compensation that expects a different output, and a spec of the wrong shape", () => {
    saga("s").step("a", {
      run: () => 1,
      // @ts-expect-error: the output is a number
      compensate: (o: string) => void o,
    });
    saga("s").resource("disk", disk, {
      // @ts-expect-error: the spec is { size: number }
      spec: () => ({ size: "big" }),
    });
  });

  it("requires run, and a spec for resource steps", () => {
    // @ts-expect-error: run is missing
    saga("s").step("a", {});
    // @ts-expect-error: spec is missing
    saga("s").resource("disk", disk, {});
  });
});
