// The bundled CLI (scripts/build-cli.js): `npm run sandbox-runner` and the tests rebuild it when it
// is older than a file it was built from, so that nobody runs a bundle that lags the source.
import { execFileSync } from "node:child_process";
import { statSync, utimesSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildCli, cliBundle, cliBundleStale } from "../../scripts/build-cli.js";
import { repoRoot } from "./support/sandbox.js";

describe("the bundled CLI", () => {
  it("is rebuilt when older than its sources, and only then", async () => {
    // global-setup.ts built it: fresh.
    expect(cliBundleStale()).toBe(false);
    expect(await buildCli({ force: false })).toBe(false);
    // As if a source file had been edited after the build.
    const source = statSync(path.join(repoRoot, "examples/sandbox-runner/cli/main.ts")).mtime;
    utimesSync(cliBundle, new Date(source.getTime() - 60_000), new Date(source.getTime() - 60_000));
    expect(cliBundleStale()).toBe(true);
    expect(await buildCli({ force: false })).toBe(true);
    expect(cliBundleStale()).toBe(false);
  });

  it("is what `npm run sandbox-runner` runs: one entry file, node builtins external, the rest inside", () => {
    const out = execFileSync("npm", ["run", "--silent", "sandbox-runner", "--", "--version"], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    expect(out).toMatch(/^errdefer-sandbox version \d+\.\d+\.\d+/);
    // Runs from anywhere: no package of the repo is resolved at run time (only node: builtins).
    const version = execFileSync(process.execPath, [cliBundle, "version", "-o", "yaml"], {
      cwd: "/",
      encoding: "utf8",
    });
    expect(version).toContain("runtimeName: errdefer");
  });
});
