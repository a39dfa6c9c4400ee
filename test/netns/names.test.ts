import { describe, expect, it } from "vitest";
import { createNetns, listNetns, loadNetns, sweepNetns } from "../../src/netns/index.js";
import { FakeRunner } from "../support/fake-runner.js";
import { createProcessDriver } from "../../src/netns/index.js";

describe("validation, before any command runs", () => {
  const runner = new FakeRunner();
  const driver = createProcessDriver({ runner });

  it.each([
    ["", 'invalid name "": must not be empty'],
    ["x".repeat(65), "must be at most 64 characters (got 65)"],
    ["a/b", 'invalid name "a/b": must not contain "/"'],
    [".", 'invalid name ".": must not be "."'],
    ["..", 'invalid name "..": must not be ".."'],
    ["a b", 'invalid name "a b": may only contain A-Z a-z 0-9 _ . -'],
    ["ü", "may only contain"],
  ])("rejects the name %j", async (name, message) => {
    const result = await createNetns({ name, driver });
    expect(result._unsafeUnwrapErr().code).toBe("invalid-argument");
    expect(result._unsafeUnwrapErr().message).toContain(message);
    expect(result._unsafeUnwrapErr().message).toMatch(/^failed to create network namespace: invalid name/);
  });

  it("accepts a 64-character name of every allowed character class", async () => {
    const name = `Az09_.-${"x".repeat(57)}`;
    expect((await createNetns({ name, driver }))._unsafeUnwrap().name).toBe(name);
  });

  it.each([["relative/dir"], ["./x"], [""], ["/"]])("rejects the dir %j", async (dir) => {
    const error = (await createNetns({ dir, driver }))._unsafeUnwrapErr();
    expect(error.code).toBe("invalid-argument");
    expect(error.message).toContain(`invalid dir ${JSON.stringify(dir)}`);
  });

  it("rejects a relative path in loadNetns and in listNetns", async () => {
    expect(loadNetns("netns/x")._unsafeUnwrapErr().message).toBe(
      'failed to load network namespace netns/x: invalid path "netns/x": must be an absolute path',
    );
    expect(loadNetns("/run/netns/a b")._unsafeUnwrapErr().message).toContain("its file name may only contain");
    expect(loadNetns("/run/netns/../x")._unsafeUnwrapErr().message).toContain("must be a normalized absolute path");
    expect((await listNetns({ dir: "x" }))._unsafeUnwrapErr().message).toContain('invalid dir "x"');
  });

  it("refuses a sweep without a prefix, or with a bad one, or without keep", async () => {
    const keep = () => false;
    expect((await sweepNetns({ prefix: "", keep, driver }))._unsafeUnwrapErr().message).toContain(
      'invalid prefix "": must not be empty',
    );
    expect((await sweepNetns({ prefix: "a/", keep, driver }))._unsafeUnwrapErr().message).toContain("invalid prefix");
    expect((await sweepNetns({ prefix: "a", keep: undefined as never, driver }))._unsafeUnwrapErr().message).toContain(
      "invalid keep",
    );
  });

  it("ran no command for any of it", () => {
    expect(runner.calls.filter((argv) => argv.includes("add") && !argv.some((a) => a.startsWith("Az09")))).toEqual([]);
  });

  it("generates cni- names formatted like a UUID", async () => {
    const ns = (await createNetns({ driver }))._unsafeUnwrap();
    expect(ns.name).toMatch(/^cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(ns.path).toBe(`/var/run/netns/${ns.name}`);
  });
});
