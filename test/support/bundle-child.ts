// The crash tests start a child script hundreds of times: bundled by esbuild (a devDependency) it
// starts in a fraction of tsx's time. One place for how a child is bundled.
import path from "node:path";
import { build, stop } from "esbuild";

/** Bundles `entry` into `outDir` and resolves to the node argv that starts it (before its own arguments). */
export async function bundleChild(entry: string, outDir: string): Promise<string[]> {
  const outfile = path.join(outDir, `${path.basename(entry, path.extname(entry))}.mjs`);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
    // Bundled CommonJS dependencies call require() for node builtins.
    banner: {
      js: "import { createRequire as __errdeferRequire } from 'node:module'; const require = __errdeferRequire(import.meta.url);",
    },
  });
  // esbuild's service process is not needed once the bundle is written.
  await stop();
  return [outfile];
}
