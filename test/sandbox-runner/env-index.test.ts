// Each root test file gives SandboxEnv its own index: two files with one index share a bridge,
// a subnet and prefixes, and their leftover checks then see each other's resources.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const testRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [],
  );
}

describe("SandboxEnv indices", () => {
  test("no two test files use the same index", () => {
    const byIndex = new Map<number, string[]>();
    for (const file of testFiles(testRoot)) {
      for (const m of readFileSync(file, "utf8").matchAll(/new SandboxEnv\((\d+)\)/g)) {
        const index = Number(m[1]);
        byIndex.set(index, [...(byIndex.get(index) ?? []), path.relative(testRoot, file)]);
      }
    }
    expect(byIndex.size).toBeGreaterThan(5);
    const shared = [...byIndex].filter(([, files]) => files.length > 1);
    expect(shared).toEqual([]);
  });
});
