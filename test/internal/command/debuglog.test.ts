// NODE_DEBUG=errdefer traces every command a runner starts, with its outcome and duration, on
// stderr (util.debuglog); without it nothing is printed.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../../..");

async function runTrue(entry: string, factory: string, nodeDebug: string | undefined): Promise<string> {
  const code = `const m = await import(${JSON.stringify(entry)});
const r = await m.${factory}().run(["true"]);
if (!r.isOk()) process.exit(3);
const f = await m.${factory}().run(["false"]);
if (!f.isOk()) process.exit(4);
const g = await m.${factory}().run(["/nonexistent-errdefer-program"]);
if (!g.isErr()) process.exit(5);`;
  const env = { ...process.env, NODE_DEBUG: nodeDebug ?? "" };
  const { stderr } = await exec(
    process.execPath,
    ["--conditions=source", "--import", "tsx", "--input-type=module", "-e", code],
    { cwd: root, env },
  );
  return stderr;
}

describe("NODE_DEBUG=errdefer", () => {
  it.each([
    ["errdefer/host", "spawnRunner"],
    ["errdefer/netns", "execaRunner"],
  ])("%s %s traces each command started and how it ended, with its duration", async (entry, factory) => {
    const traced = await runTrue(entry, factory, "errdefer");
    expect(traced).toMatch(/^ERRDEFER \d+: run true$/m);
    expect(traced).toMatch(/^ERRDEFER \d+: true: exit 0 in \d+ ms$/m);
    expect(traced).toMatch(/^ERRDEFER \d+: false: exit 1 in \d+ ms$/m);
    expect(traced).toMatch(/^ERRDEFER \d+: \/nonexistent-errdefer-program: failed \(\w+\) in \d+ ms: .*nonexistent/m);
    expect(await runTrue(entry, factory, undefined)).not.toMatch(/ERRDEFER/);
  });
});

describe("traceCommands", () => {
  it("sends the same trace to a writer, for the runners made after it; undefined gives it back to NODE_DEBUG", async () => {
    const { spawnRunner, traceCommands } = await import("errdefer/host");
    const lines: string[] = [];
    const before = spawnRunner();
    traceCommands((line) => lines.push(line));
    try {
      await before.run(["true"]);
      expect(lines, "a runner made before the call is not traced").toEqual([]);
      await spawnRunner().run(["true"]);
      expect(lines).toEqual(["run true", expect.stringMatching(/^true: exit 0 in \d+ ms$/)]);
    } finally {
      traceCommands(undefined);
    }
    await spawnRunner().run(["true"]);
    expect(lines).toHaveLength(2);
  });
});
