// FileJournal reads /proc (its segment is named by this process's identity): off Linux, or without
// a readable /proc, its constructor fails with a JournalError that says so, not a raw ENOENT.
import { afterEach, describe, expect, it, vi } from "vitest";
import { FileJournal, isJournalError, MemoryJournal } from "../../src/journal/index.js";

const proc = vi.hoisted(() => ({ broken: false }));
vi.mock("../../src/internal/liveness.js", async (original) => {
  const real = await original<typeof import("../../src/internal/liveness.js")>();
  return {
    ...real,
    selfIdentity: () => {
      if (proc.broken)
        throw Object.assign(new Error("ENOENT: no such file or directory, open '/proc/self/stat'"), { code: "ENOENT" });
      return real.selfIdentity();
    },
  };
});

const realPlatform = process.platform;
function pretendPlatform(platform: NodeJS.Platform): void {
  Object.defineProperty(process, "platform", { value: platform, configurable: true });
}

afterEach(() => {
  pretendPlatform(realPlatform);
  proc.broken = false;
});

function constructorError(): unknown {
  try {
    new FileJournal("/nonexistent-errdefer-journal");
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("FileJournal off Linux", () => {
  it("fails on another platform with a JournalError naming it", () => {
    pretendPlatform("darwin");
    const e = constructorError();
    expect(isJournalError(e)).toBe(true);
    expect(e).toMatchObject({ code: "unsupported-platform", path: "/nonexistent-errdefer-journal" });
    expect(String(e)).toMatch(/FileJournal needs Linux.*\/proc.*darwin.*MemoryJournal/);
  });

  it("fails with a JournalError when /proc cannot be read on Linux", () => {
    proc.broken = true;
    const e = constructorError();
    expect(e).toMatchObject({ name: "JournalError", code: "unsupported-platform" });
    expect(String(e)).toMatch(/could not read this process's identity from \/proc.*ENOENT/);
    expect((e as Error).cause).toMatchObject({ code: "ENOENT" });
  });

  it("constructs on Linux with /proc, and MemoryJournal anywhere", () => {
    expect(new FileJournal("/nonexistent-errdefer-journal").dir).toBe("/nonexistent-errdefer-journal");
    pretendPlatform("win32");
    expect(new MemoryJournal()).toBeInstanceOf(MemoryJournal);
  });
});
