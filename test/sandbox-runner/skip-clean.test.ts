// `npm test` on a machine without runc or the CNI plugins: the root tests that need them skip,
// leave nothing behind (the run's leftover check stays green), and say how to install what they
// need; with CI=true the same run fails. Each case is a child vitest run of the sandbox runner's
// and the security review's root test files, with runc hidden from PATH and the plugin dir empty.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDir } from "../support/netns-dirs.js";
import { INSTALL_HINT } from "../support/root.js";
import { repoRoot } from "./support/sandbox.js";

/** The root test files the missing prerequisites gate (paths relative to the repo). */
function gatedFiles(): string[] {
  const under = (dir: string): string[] =>
    (readdirSync(path.join(repoRoot, dir), { recursive: true }) as string[])
      .filter((f) => f.endsWith(".root.test.ts"))
      .map((f) => path.join(dir, f));
  return [...under("test/sandbox-runner"), ...under("test/security")].sort();
}

/** A dir of links to every command on PATH but runc: this machine's PATH, without runc. */
function pathWithout(dir: string, hidden: string): void {
  mkdirSync(dir, { recursive: true });
  const seen = new Set<string>([hidden]);
  for (const bin of (process.env.PATH ?? "").split(":").filter((d) => d !== "")) {
    let names: string[] = [];
    try {
      names = readdirSync(bin);
    } catch {
      continue;
    }
    for (const name of names) {
      if (seen.has(name)) continue;
      seen.add(name);
      symlinkSync(path.join(bin, name), path.join(dir, name));
    }
  }
}

interface ChildRun {
  readonly code: number | null;
  readonly output: string;
}

function childVitest(files: readonly string[], env: NodeJS.ProcessEnv): Promise<ChildRun> {
  // The child is a run of its own: none of this run's vitest variables.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST") && k !== "CI" && k !== "NODE_OPTIONS"),
  );
  const vitest = path.join(repoRoot, "node_modules/vitest/vitest.mjs");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [vitest, "run", ...files], {
      cwd: repoRoot,
      env: { ...base, NO_COLOR: "1", FORCE_COLOR: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (output += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("the root tests without runc or the CNI plugins", () => {
  const work = testDir("skipclean");
  const bin = path.join(work, "bin");
  const emptyCni = path.join(work, "cni");
  const files = gatedFiles();
  const hidden = () => ({ PATH: bin, ERRDEFER_TEST_CNI_BIN_DIR: emptyCni });

  beforeAll(() => {
    pathWithout(bin, "runc");
    mkdirSync(emptyCni, { recursive: true });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("finds the gated files", () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it("outside CI: every one skips, saying how to install what is missing, and the run leaves nothing", async () => {
    const run = await childVitest(files, hidden());
    expect(run.output).not.toMatch(/left \d+ .* behind/);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(INSTALL_HINT);
    expect(run.output).toContain("runc on PATH");
    expect(run.output).toContain(path.join(emptyCni, "bridge"));
    expect(run.output).toMatch(new RegExp(`Test Files +${files.length} skipped \\(${files.length}\\)`));
  }, 180_000);

  it("with CI=true: a missing prerequisite fails the run, with the same hint", async () => {
    const run = await childVitest(files, { ...hidden(), CI: "true" });
    expect(run.code, run.output).toBe(1);
    expect(run.output).toContain("has its prerequisites");
    expect(run.output).toContain(INSTALL_HINT);
    expect(run.output).not.toMatch(/left \d+ .* behind/);
    expect(run.output).toMatch(new RegExp(`Test Files +${files.length} failed \\(${files.length}\\)`));
  }, 180_000);
});
