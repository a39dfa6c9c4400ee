import { describe, expect, it } from "vitest";
import { isNetnsError, NetnsError } from "../../src/netns/index.js";

describe("NetnsError", () => {
  it("starts its message with the action and names the namespace", () => {
    const cause = new Error("boom");
    const e = new NetnsError({
      operation: "remove",
      code: "busy",
      name: "cni-1",
      path: "/run/netns/cni-1",
      reason: "EBUSY",
      exitCode: 1,
      stderr: "x",
      cause,
    });
    expect(e.message).toBe("failed to remove network namespace cni-1: EBUSY");
    expect(e).toMatchObject({
      operation: "remove",
      code: "busy",
      netnsName: "cni-1",
      path: "/run/netns/cni-1",
      exitCode: 1,
      stderr: "x",
      name: "NetnsError",
    });
    expect(e.cause).toBe(cause);
  });

  it("words list and sweep errors in the plural and names the dir", () => {
    expect(new NetnsError({ operation: "sweep", code: "io", path: "/x", reason: "r" }).message).toBe(
      "failed to sweep network namespaces /x: r",
    );
  });

  it("is recognised by its brand, not by instanceof", () => {
    const e = new NetnsError({ operation: "exec", code: "closed", reason: "gone" });
    expect(isNetnsError(e)).toBe(true);
    expect(isNetnsError(Object.assign(new Error("x"), { name: "NetnsError" }))).toBe(false);
    expect(isNetnsError(null)).toBe(false);
    expect(isNetnsError({ [Symbol.for("errdefer.NetnsError")]: true })).toBe(true);
  });
});
