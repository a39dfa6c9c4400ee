// Only errdefer/netns may load execa. Each entry point is imported in a fresh node whose module
// resolve hook throws on any URL inside execa's package, so one import of it anywhere in the graph
// (static or at load time) fails the import; errdefer/netns is the control that shows the hook fires.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../../..");

const hooks = `
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (/\\/node_modules\\/execa\\//.test(resolved.url))
    throw new Error("execa was loaded, imported by " + context.parentURL);
  return resolved;
}`;
const tripwire = `import { register } from "node:module";
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;

async function load(entry: string): Promise<{ ok: boolean; stderr: string }> {
  const args = [
    "--conditions=source",
    "--import",
    "tsx",
    "--import",
    `data:text/javascript,${encodeURIComponent(tripwire)}`,
    "--input-type=module",
    "-e",
    `const m = await import(${JSON.stringify(entry)}); if (Object.keys(m).length === 0) process.exit(3);`,
  ];
  try {
    await run(process.execPath, args, { cwd: root });
    return { ok: true, stderr: "" };
  } catch (e) {
    return { ok: false, stderr: String((e as { stderr?: unknown }).stderr) };
  }
}

describe("which entry points load execa", () => {
  it.each(["errdefer", "errdefer/journal", "errdefer/host"])("%s does not", async (entry) => {
    const loaded = await load(entry);
    expect(loaded.stderr).toBe("");
    expect(loaded.ok).toBe(true);
  });

  it("errdefer/netns does (the tripwire works)", async () => {
    const loaded = await load("errdefer/netns");
    expect(loaded.ok).toBe(false);
    expect(loaded.stderr).toMatch(
      /execa was loaded, imported by file:\/\/.*\/src\/internal\/command\/execa-runner\.ts/,
    );
  });
});
