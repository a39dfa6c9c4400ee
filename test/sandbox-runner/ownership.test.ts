// The ownership module (examples/sandbox-runner/ownership.ts): what a state dir owns is decided by
// its owner tag alone, the tag file is made once and read back, and prefixes that could name
// another runtime's resources are refused by the runner's options.
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  loadOwnerTag,
  Ownership,
  OwnerFileError,
  prefixProblem,
  RUNTIME_PREFIXES,
} from "../../examples/sandbox-runner/ownership.js";
import { resolveConfig } from "../../examples/sandbox-runner/runner/config.js";
import { runPrefix } from "../support/run-prefix.js";

const work = mkdtempSync(path.join(os.tmpdir(), `${runPrefix}own-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("Ownership", () => {
  const owner = new Ownership("0badcafe", "errdefer-");

  it("makes 32-hex ids that end with its tag, and owns them", () => {
    const ids = Array.from({ length: 50 }, () => owner.newSandboxId());
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{24}0badcafe$/);
      expect(owner.ownsId(id)).toBe(true);
      expect(owner.ownsNetnsName(`errdefer-${id}`)).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each([
    ["another state dir's id", "0123456789abcdef01234567deadbeef"],
    ["the tag in front", "0badcafe0123456789abcdef01234567"],
    ["upper case", "0123456789ABCDEF012345670BADCAFE"],
    ["too short", "123456789abcdef012345670badcafe"],
    ["too long", "x0123456789abcdef012345670badcafe"],
    ["a path", "/../../../../etc/passwd000badcafe"],
    ["not a string", 0xbadcafe],
    ["empty", ""],
  ])("does not own %s", (_what, id) => {
    expect(owner.ownsId(id)).toBe(false);
    expect(owner.ownsNetnsName(`errdefer-${String(id)}`)).toBe(false);
  });

  it("owns a netns name only with its own prefix in front of its own id", () => {
    const id = owner.newSandboxId();
    for (const name of ["errdefer-anything", `errdefer-x${id}`, `errdefer${id}`, `other-${id}`, id, `errdefer-${id}0`])
      expect(owner.ownsNetnsName(name), name).toBe(false);
  });

  it("refuses a tag that is not 8 hex digits", () => {
    expect(() => new Ownership("0badcaf", "p--")).toThrow(TypeError);
  });
});

describe("loadOwnerTag", () => {
  it("makes the tag once (0600) and reads the same tag back", async () => {
    const file = path.join(work, "made");
    const tag = await loadOwnerTag(file);
    expect(tag).toMatch(/^[0-9a-f]{8}$/);
    expect(readFileSync(file, "utf8")).toBe(`${tag}\n`);
    expect(await loadOwnerTag(file)).toBe(tag);
    expect(await Promise.all([1, 2, 3].map(() => loadOwnerTag(file)))).toEqual([tag, tag, tag]);
  });

  it("agrees on one tag when several make it at once", async () => {
    const file = path.join(work, "raced");
    const tags = await Promise.all(Array.from({ length: 8 }, () => loadOwnerTag(file)));
    expect(new Set(tags).size).toBe(1);
  });

  it.each([
    ["garbage", "not a tag\n"],
    ["an empty file", ""],
    ["upper case", "0BADCAFE\n"],
    ["two lines", "0badcafe\n0badcafe\n"],
  ])("refuses %s, naming the file and quoting none of it", async (_what, text) => {
    const file = path.join(work, `bad-${_what.replaceAll(" ", "-")}`);
    writeFileSync(file, text);
    const error = await loadOwnerTag(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OwnerFileError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain("malformed");
    if (text !== "") expect((error as Error).message).not.toContain(text.trim());
    expect(readFileSync(file, "utf8")).toBe(text);
  });

  it("refuses a symlink or a directory", async () => {
    const target = path.join(work, "target");
    writeFileSync(target, "0badcafe\n");
    chmodSync(target, 0o600);
    const link = path.join(work, "link");
    symlinkSync(target, link);
    await expect(loadOwnerTag(link)).rejects.toThrow(/is not a regular file/);
    await expect(loadOwnerTag(work)).rejects.toThrow(/is not a regular file/);
  });
});

describe("the prefix", () => {
  it.each([...RUNTIME_PREFIXES, "cni", "CNI-", "cni-podnet", "Docker0", "kub", "k8s_", "veth1", "containerd-x"])(
    "%s collides with another runtime's names: refused, naming the prefix",
    (prefix) => {
      expect(prefixProblem(prefix)).toMatch(/collides with/);
      const resolved = resolveConfig({ prefix });
      expect(resolved.isErr() && resolved.error.problems).toEqual([{ field: "prefix", reason: prefixProblem(prefix) }]);
    },
  );

  it.each(["", "e", "e-", "a/b", "../", "x".repeat(25), "e d", "e\0x"])("%j is refused (3-24 safe characters)", (p) => {
    expect(prefixProblem(p)).toMatch(/3-24 characters/);
    expect(resolveConfig({ prefix: p }).isErr()).toBe(true);
  });

  it.each(["errdefer-", "edt", "edt123456-", "sbx.", "my_pods-"])("%s is accepted", (prefix) => {
    expect(prefixProblem(prefix)).toBeUndefined();
    expect(resolveConfig({ prefix }).isOk()).toBe(true);
  });
});
