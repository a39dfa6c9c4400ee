// The table at the end of semantics.md ("What the rules imply"), one named example per row.
import { err, ok, type Result } from "neverthrow";
import { describe, expect, it } from "vitest";
import { isTransactionError, transaction, type TransactionError } from "../../src/index.js";

/** A cleanup that records its label when it runs. */
function recorder(ran: string[], label: string, failWith?: unknown) {
  return () => {
    ran.push(label);
    if (failWith !== undefined) throw failWith;
  };
}

function errorOf<T>(r: Result<T, TransactionError>): TransactionError {
  if (r.isOk()) throw new Error(`expected an err, got ok(${String(r.value)})`);
  expect(isTransactionError(r.error)).toBe(true);
  return r.error;
}

describe("semantics.md table", () => {
  it("ok body | errdefer A, errdefer B | runs none | Ok", async () => {
    const ran: string[] = [];
    const value = { id: 1 };
    const r = await transaction((tx) => {
      tx.errdefer(recorder(ran, "A"), { label: "A" });
      tx.errdefer(recorder(ran, "B"), { label: "B" });
      return ok(value);
    });
    expect(ran).toEqual([]);
    expect(r.isOk() && r.value).toBe(value);
  });

  it("err e body | errdefer A, errdefer B | runs B, A | Err(cause e)", async () => {
    const ran: string[] = [];
    const e = new Error("e");
    const r = await transaction((tx) => {
      tx.errdefer(recorder(ran, "A"), { label: "A" });
      tx.errdefer(recorder(ran, "B"), { label: "B" });
      return err(e);
    });
    expect(ran).toEqual(["B", "A"]);
    const te = errorOf(r);
    expect(te.cause).toBe(e);
    expect(te.cleanupFailures).toEqual([]);
    expect(te.retained).toEqual([]);
  });

  it("err e body | guarded errdefer A, errdefer B (fails f) | runs B | retains A | Err(cause e, failures [B:f])", async () => {
    const ran: string[] = [];
    const e = new Error("e");
    const f = new Error("f");
    const r = await transaction((tx) => {
      tx.errdefer(recorder(ran, "A"), { label: "A", guard: true });
      tx.errdefer(recorder(ran, "B", f), { label: "B" });
      return err(e);
    });
    expect(ran).toEqual(["B"]);
    const te = errorOf(r);
    expect(te.cause).toBe(e);
    expect(te.cleanupFailures).toHaveLength(1);
    expect(te.cleanupFailures[0]!.label).toBe("B");
    expect(te.cleanupFailures[0]!.error).toBe(f);
    expect(te.retained.map((x) => x.label)).toEqual(["A"]);
  });

  it("ok body | errdefer A, defer B (fails f) | runs B, A | Err(cause f, failures [B:f])", async () => {
    const ran: string[] = [];
    const f = new Error("f");
    const r = await transaction((tx) => {
      tx.errdefer(recorder(ran, "A"), { label: "A" });
      tx.defer(recorder(ran, "B", f), { label: "B" });
      return ok(1);
    });
    expect(ran).toEqual(["B", "A"]);
    const te = errorOf(r);
    expect(te.cause).toBe(f);
    expect(te.cleanupFailures.map((x) => [x.label, x.error])).toEqual([["B", f]]);
    expect(te.cleanupFailures[0]!.error).toBe(f);
    expect(te.retained).toEqual([]);
  });

  it("ok body | guarded errdefer A, defer B (fails f) | runs B | retains A | Err(cause f, failures [B:f])", async () => {
    const ran: string[] = [];
    const f = new Error("f");
    const r = await transaction((tx) => {
      tx.errdefer(recorder(ran, "A"), { label: "A", guard: true });
      tx.defer(recorder(ran, "B", f), { label: "B" });
      return ok(1);
    });
    expect(ran).toEqual(["B"]);
    const te = errorOf(r);
    expect(te.cause).toBe(f);
    expect(te.cleanupFailures).toHaveLength(1);
    expect(te.cleanupFailures[0]!.label).toBe("B");
    expect(te.cleanupFailures[0]!.error).toBe(f);
    expect(te.retained.map((x) => x.label)).toEqual(["A"]);
  });

  it("err e body | errdefer A (dismissed), errdefer B | runs B | Err(cause e)", async () => {
    const ran: string[] = [];
    const e = new Error("e");
    const r = await transaction((tx) => {
      const a = tx.errdefer(recorder(ran, "A"), { label: "A" });
      tx.errdefer(recorder(ran, "B"), { label: "B" });
      expect(a.dismiss()).toBe(true);
      return err(e);
    });
    expect(ran).toEqual(["B"]);
    const te = errorOf(r);
    expect(te.cause).toBe(e);
    expect(te.cleanupFailures).toEqual([]);
    expect(te.retained).toEqual([]);
  });

  it("ok body | errdefer A, defer B sets retErr g | runs B, A | Err(cause g)", async () => {
    const ran: string[] = [];
    const g = new Error("g");
    const r = await transaction((tx) => {
      tx.errdefer(recorder(ran, "A"), { label: "A" });
      tx.defer(
        (ctx) => {
          ran.push("B");
          ctx.setRetErr(g);
        },
        { label: "B" },
      );
      return ok(1);
    });
    expect(ran).toEqual(["B", "A"]);
    const te = errorOf(r);
    expect(te.cause).toBe(g);
    expect(te.cleanupFailures).toEqual([]);
    expect(te.retained).toEqual([]);
  });

  it("err e body | errdefer A, defer B clears retErr | runs B | Ok(undefined)", async () => {
    const ran: string[] = [];
    const r = await transaction((tx) => {
      tx.errdefer(recorder(ran, "A"), { label: "A" });
      tx.defer(
        (ctx) => {
          ran.push("B");
          ctx.clearRetErr();
        },
        { label: "B" },
      );
      return err(new Error("e"));
    });
    expect(ran).toEqual(["B"]);
    expect(r.isOk()).toBe(true);
    expect(r.isOk() && r.value).toBeUndefined();
  });

  it("ok body | defer A clears retErr, defer B (fails f) | runs B, A (refused: r) | Err(cause f, failures [B:f, A:r])", async () => {
    const ran: string[] = [];
    const f = new Error("f");
    const r = await transaction((tx) => {
      tx.defer(
        (ctx) => {
          ran.push("A");
          ctx.clearRetErr();
        },
        { label: "A" },
      );
      tx.defer(recorder(ran, "B", f), { label: "B" });
      return ok(1);
    });
    expect(ran).toEqual(["B", "A"]);
    const te = errorOf(r);
    expect(te.cause).toBe(f);
    expect(te.cleanupFailures.map((x) => x.label)).toEqual(["B", "A"]);
    expect(te.cleanupFailures[1]!.error).toBeInstanceOf(TypeError);
    expect(te.retained).toEqual([]);
  });

  it("err e body, notes n | guarded errdefer A, errdefer B | runs B | retains A | Err(cause e, failures [body:n])", async () => {
    const ran: string[] = [];
    const e = new Error("e");
    const n = new Error("n");
    const r = await transaction((tx) => {
      tx.errdefer(recorder(ran, "A"), { label: "A", guard: true });
      tx.errdefer(recorder(ran, "B"), { label: "B" });
      tx.noteCleanupFailure(n);
      return err(e);
    });
    expect(ran).toEqual(["B"]);
    const te = errorOf(r);
    expect(te.cause).toBe(e);
    expect(te.cleanupFailures).toEqual([{ label: "body", error: n }]);
    expect(te.retained).toEqual([{ label: "A" }]);
  });

  it("ok body, notes n | errdefer A | runs A | Err(cause n, failures [body:n])", async () => {
    const ran: string[] = [];
    const n = new Error("n");
    const r = await transaction((tx) => {
      tx.errdefer(recorder(ran, "A"), { label: "A" });
      tx.noteCleanupFailure(n);
      return ok(1);
    });
    expect(ran).toEqual(["A"]);
    const te = errorOf(r);
    expect(te.cause).toBe(n);
    expect(te.origin).toBe("cleanup");
    expect(te.cleanupFailures).toEqual([{ label: "body", error: n }]);
  });
});
