// `npm run lint:package` (after the build): what `npm pack` would publish. The tarball must hold
// the LICENSE (Apache-2.0 requires its text to ship), the README, package.json, every file the
// exports map names for the types and default conditions, and every source a shipped source map
// names (stacks under --enable-source-maps must name files that exist). Exits 1 listing what is
// missing.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

interface PackEntry {
  readonly files: readonly { readonly path: string }[];
}

const root = path.resolve(import.meta.dirname, "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const packed = JSON.parse(
  execFileSync(npm, ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" }),
) as PackEntry[];
const files = new Set(packed[0]?.files.map((f) => f.path) ?? []);

function exportTargets(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
    exports: Record<string, string | Record<string, string>>;
  };
  return Object.values(pkg.exports).flatMap((target) =>
    typeof target === "string" ? [target] : Object.values(target),
  );
}

function mapSources(map: string): string[] {
  const { sources } = JSON.parse(readFileSync(path.join(root, map), "utf8")) as { sources: string[] };
  return sources.map((s) => path.posix.join(path.posix.dirname(map), s));
}

const wanted = ["LICENSE", "README.md", "package.json", ...exportTargets().map((t) => path.posix.normalize(t))];
const missing = wanted.filter((f) => !files.has(f)).map((f) => `${f} (required)`);
for (const map of [...files].filter((f) => f.endsWith(".map"))) {
  for (const source of mapSources(map)) if (!files.has(source)) missing.push(`${source} (named by ${map})`);
}
if (!files.has("dist/index.js")) missing.push("dist/index.js (run npm run build first)");

if (missing.length > 0) {
  console.error(`npm pack would ship ${files.size} files but not:\n  ${missing.join("\n  ")}`);
  process.exit(1);
}
console.log(`npm pack: ${files.size} files, LICENSE, README, every export target and map source included`);
