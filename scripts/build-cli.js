// @ts-check
// Bundles the sandbox runner's CLI (examples/sandbox-runner/cli.ts) into one ESM entry file with
// esbuild: started through tsx it cost ~1.4 s of CPU per invocation, bundled a fraction of it
// (`npm run bench -- startup`). What the CLI imports only when asked (`await import()`: CRI's
// protobuf shapes for `-o json`, yaml) goes to chunks beside it, so that a start compiles none of it. Plain JavaScript, so that checking whether the bundle is fresh costs one bare
// node start and no TypeScript loader: `npm run sandbox-runner` runs `node scripts/build-cli.js
// --if-stale` before the bundle, and the tests, the soak and the demo call it once before theirs.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const entry = path.join(repoRoot, "examples/sandbox-runner/cli.ts");
const binDir = path.join(repoRoot, "examples/sandbox-runner/bin");

/** The bundle: `errdefer-sandbox` in examples/sandbox-runner/bin/package.json. */
export const cliBundle = path.join(binDir, "errdefer-sandbox.mjs");
/** What the last build read (esbuild's metafile inputs), to tell whether the bundle is stale. */
const inputsFile = path.join(binDir, ".errdefer-sandbox.inputs.json");
/** The lazily imported chunks, named by their content's hash. */
const chunkDir = path.join(binDir, "chunks");

// Bundled CommonJS (execa's cross-spawn, grpc-js) calls require() for node builtins; an ESM bundle
// has none, so one is made from import.meta.url. Node builtins stay external (platform: node).
const banner = [
  "#!/usr/bin/env node",
  "import { createRequire as __errdeferCreateRequire } from 'node:module';",
  "const require = __errdeferCreateRequire(import.meta.url);",
].join("\n");

/** mtime in ms, or undefined when the file is not there. */
function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Whether the bundle is missing or older than anything it was built from: a source file, a
 * dependency (an install rewrites node_modules/.package-lock.json), package.json or this script.
 */
export function cliBundleStale() {
  const built = mtime(cliBundle);
  if (built === undefined) return true;
  let inputs;
  try {
    inputs = /** @type {string[]} */ (JSON.parse(readFileSync(inputsFile, "utf8")));
  } catch {
    return true;
  }
  const also = ["package.json", "node_modules/.package-lock.json", "scripts/build-cli.js"];
  return [...inputs, ...also].some((f) => (mtime(path.join(repoRoot, f)) ?? Infinity) > built);
}

/** Builds the bundle (when stale, or always with `force`); returns whether it built. */
export async function buildCli({ force = false } = {}) {
  if (!force && !cliBundleStale()) return false;
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: { "errdefer-sandbox": entry },
    absWorkingDir: repoRoot,
    bundle: true,
    splitting: true,
    write: false,
    outdir: binDir,
    chunkNames: "chunks/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
    platform: "node",
    format: "esm",
    target: "node20",
    // errdefer resolves to src/ here, as under tsx and vitest (package.json's "source" condition).
    conditions: ["source"],
    banner: { js: banner },
    metafile: true,
    logLevel: "warning",
    legalComments: "none",
  });
  mkdirSync(chunkDir, { recursive: true });
  // Chunks first (a new hash is a new file), the entry last; each written whole, then renamed: a
  // CLI started meanwhile (another test run) never reads half a file.
  const files = [...result.outputFiles].sort((a, b) => Number(a.path === cliBundle) - Number(b.path === cliBundle));
  for (const file of files) {
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents, { mode: file.path === cliBundle ? 0o755 : 0o644 });
    renameSync(tmp, file.path);
  }
  writeFileSync(inputsFile, JSON.stringify(Object.keys(result.metafile.inputs)));
  // The chunks of earlier builds are no longer imported.
  const written = new Set(files.map((f) => f.path));
  for (const name of readdirSync(chunkDir)) {
    if (!written.has(path.join(chunkDir, name))) rmSync(path.join(chunkDir, name), { force: true });
  }
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const force = !process.argv.includes("--if-stale");
  const built = await buildCli({ force });
  if (built && !process.argv.includes("--quiet"))
    process.stderr.write(`built ${path.relative(process.cwd(), cliBundle)}\n`);
}
