// trusted-path.ts and tools.ts: what the runner runs as root must be root's (or its own uid's) and
// writable by nobody else, its directory too; a tool is resolved once to such an absolute path.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { okAsync } from "neverthrow";
import type { CommandRunner } from "errdefer/host";
import { trustedToolsRunner } from "../../examples/sandbox-runner/tools.js";
import { untrustedProblem } from "../../examples/sandbox-runner/trusted-path.js";
import { runPrefix } from "../support/run-prefix.js";

const work = mkdtempSync(path.join(os.tmpdir(), `${runPrefix}trust-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function file(dir: string, name: string, mode: number): string {
  mkdirSync(dir, { recursive: true });
  const f = path.join(dir, name);
  writeFileSync(f, "#!/bin/sh\n");
  chmodSync(f, mode);
  return f;
}

describe("untrustedProblem", () => {
  it("accepts a 0755 file in a 0755 dir, and a symlink to one", () => {
    const ok = file(path.join(work, "ok"), "tool", 0o755);
    expect(untrustedProblem(ok, "file", "tool")).toBeUndefined();
    expect(untrustedProblem(path.dirname(ok), "directory", "dir")).toBeUndefined();
    symlinkSync(ok, path.join(work, "link"));
    expect(untrustedProblem(path.join(work, "link"), "file", "tool")).toBeUndefined();
  });

  it.each([
    ["a group-writable file", 0o775, 0o755, /tool .* is group- or world-writable \(mode 0775\)/],
    ["a world-writable file", 0o757, 0o755, /is group- or world-writable \(mode 0757\)/],
    ["a file in a world-writable dir", 0o755, 0o777, /its directory .* is group- or world-writable \(mode 0777\)/],
  ])("refuses %s, naming it", (what, fileMode, dirMode, reason) => {
    const dir = path.join(work, what.replaceAll(" ", "-"));
    const f = file(dir, "tool", fileMode);
    chmodSync(dir, dirMode);
    const problem = untrustedProblem(f, "file", "tool");
    expect(problem).toMatch(reason);
    expect(problem).toContain(f);
  });

  it("refuses someone else's file, a missing one, and the wrong kind", () => {
    const theirs = file(path.join(work, "theirs"), "tool", 0o755);
    chownSync(theirs, 1234, 0);
    expect(untrustedProblem(theirs, "file", "tool")).toMatch(/is owned by uid 1234, not by root/);
    expect(untrustedProblem(path.join(work, "nope"), "file", "tool")).toMatch(/cannot be resolved \(ENOENT\)/);
    expect(untrustedProblem(work, "file", "tool")).toMatch(/is not a regular file/);
    expect(untrustedProblem(theirs, "directory", "dir")).toMatch(/is not a directory/);
  });
});

describe("trustedToolsRunner", () => {
  const recording = () => {
    const argvs: string[][] = [];
    const inner: CommandRunner = {
      run: (argv) => {
        argvs.push([...argv]);
        return okAsync({ exitCode: 0, signal: undefined, stdout: "", stderr: "" });
      },
      start: () => {
        throw new Error("not started here");
      },
    };
    return { argvs, inner };
  };

  it("runs a tool by its absolute path on PATH; other programs as they are", async () => {
    const { argvs, inner } = recording();
    const runner = trustedToolsRunner(inner);
    expect((await runner.run(["runc", "list"])).isOk()).toBe(true);
    expect((await runner.run(["/usr/lib/cni/bridge"])).isOk()).toBe(true);
    expect(argvs[0]![0]).toMatch(/^\/.*\/runc$/);
    expect(argvs[0]!.slice(1)).toEqual(["list"]);
    expect(argvs[1]).toEqual(["/usr/lib/cni/bridge"]);
  });

  it("refuses a tool found first in a world-writable dir, and never runs it", async () => {
    const planted = path.join(work, "planted");
    file(planted, "runc", 0o755);
    chmodSync(planted, 0o777);
    const saved = process.env.PATH;
    process.env.PATH = `relative/dir:${planted}:${saved ?? ""}`;
    try {
      const { argvs, inner } = recording();
      const r = await trustedToolsRunner(inner).run(["runc", "list"]);
      expect(r.isErr() && r.error).toMatchObject({ reason: "spawn" });
      expect(r.isErr() && r.error.message).toMatch(
        /tool runc .*planted\/runc: its directory .* is group- or world-writable/,
      );
      expect(argvs).toEqual([]);
    } finally {
      process.env.PATH = saved;
    }
  });
});
