// Unbounded and odd inputs through the CLI (issue 15, item 9): an endless stdin fails fast at the
// pod config's 1 MiB limit with little memory; a FIFO, a device or a directory given as the config
// is refused without hanging; nothing is created. Item 10: a custom --netns-dir is left with no
// mount once its last sandbox is removed.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import {
  cliArgv,
  describeSandbox,
  mountsWith,
  nothingHeld,
  repoRoot,
  SandboxEnv,
  show,
  type CliResult,
} from "./support/sandbox.js";

/** Writes 1 MiB of JSON-ish text every 50 ms, for ever; reports on stderr how much got through. */
const ENDLESS_WRITER = `
const chunk = Buffer.alloc(1 << 20, "[");
let written = 0;
process.stdout.on("error", () => { process.stderr.write("written " + written + "\\n"); process.exit(0); });
const tick = () => process.stdout.write(chunk, () => { written += chunk.length; setTimeout(tick, 50); });
tick();
`;

/** Kills a command that is still going after this long: the hang the old code had (not a timing). */
const GUARD_MS = 20_000;

/** `sh -c script` in its own process group, killed as a whole by the guard. */
function shell(script: string, env: Readonly<Record<string, string>>): Promise<CliResult> {
  const child = spawn("sh", ["-c", script], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_OPTIONS: "", ...env },
  });
  const guard = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), GUARD_MS);
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describeSandbox("sandbox-runner: unbounded and non-regular pod configs (root, through the CLI)", () => {
  const env = new SandboxEnv(16);
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });
  const node = cliArgv.map((a) => JSON.stringify(a)).join(" ");

  it.concurrent("an endless stdin: exit 2 with the 1 MiB limit, little read and little memory", async () => {
    const lane = env.lane();
    const opts = lane.opts().join(" ");
    const script =
      `${JSON.stringify(process.execPath)} -e "$WRITER" | ` +
      `/usr/bin/time -f "maxrss-kib %M" ${node} ${opts} run -; echo "exit $?" >&2`;
    const r = await shell(script, { WRITER: ENDLESS_WRITER });
    expect(r.signal, `killed by the guard: ${show(r)}`).toBeNull();
    expect(r.stderr, show(r)).toContain("exit 2");
    expect(r.stderr).toContain("pod config - is larger than 1 MiB (1048576 bytes), the limit");
    // The writer got EPIPE once the CLI stopped reading: a few MiB at most (the pipe's buffer).
    const written = Number(/written (\d+)/.exec(r.stderr)?.[1]);
    expect(written).toBeLessThanOrEqual(8 << 20);
    // A Node process with tsx takes some 100-200 MiB; reading the endless input took GiBs.
    const rss = Number(/maxrss-kib (\d+)/.exec(r.stderr)?.[1]);
    expect(rss, show(r)).toBeLessThan(400 * 1024);
    expect(existsSync(lane.stateDir), "nothing created").toBe(false);
  });

  it.concurrent("a FIFO, a device, a directory as the pod config: exit 2, refused without hanging", async () => {
    const lane = env.lane();
    const fifo = path.join(env.work, "pod.fifo");
    execFileSync("mkfifo", [fifo]);
    const dir = path.join(env.work, "pod.d");
    mkdirSync(dir);
    const opts = lane.opts().join(" ");
    for (const [file, kind] of [
      [fifo, "a FIFO"],
      ["/dev/null", "a device"],
      [dir, "a directory"],
    ] as const) {
      const r = await shell(`${node} ${opts} run ${JSON.stringify(file)}`, {});
      expect(r.signal, `killed by the guard: ${show(r)}`).toBeNull();
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain(`pod config ${file} is not a regular file (${kind})`);
    }
    expect(existsSync(lane.stateDir), "nothing created").toBe(false);
  });

  it.concurrent("run/rm cycles in a custom --netns-dir leave no mount (not one bind per dir)", async () => {
    const lane = env.lane();
    const dir = path.join(env.work, "netns");
    const pod = env.podConfig({ metadata: { name: "web", namespace: "default", uid: "u-1" } });
    const other = env.podConfig({ metadata: { name: "db", namespace: "default", uid: "u-2" } });
    const ids: string[] = [];
    for (const config of [pod, other]) {
      const run = await lane.cli(["--netns-dir", dir, "--json", "run", config]);
      expect(run.code, show(run)).toBe(0);
      ids.push((JSON.parse(run.stdout) as { id: string }).id);
    }
    // While a sandbox is there: its namespace, and the dir's own shared bind mount.
    expect(mountsWith(dir)).toContain(dir);
    const first = await lane.cli(["--netns-dir", dir, "rm", ids[0]!]);
    expect(first.code, show(first)).toBe(0);
    expect(mountsWith(dir), "the other sandbox still needs the dir's mount").toEqual([
      dir,
      path.join(dir, `${lane.prefix}${ids[1]}`),
    ]);
    const last = await lane.cli(["--netns-dir", dir, "rm", ids[1]!]);
    expect(last.code, show(last)).toBe(0);
    expect(mountsWith(dir)).toEqual([]);
    // And again: one cycle more, still nothing.
    const again = await lane.cli(["--netns-dir", dir, "--json", "run", pod]);
    expect(again.code, show(again)).toBe(0);
    const rm = await lane.cli(["--netns-dir", dir, "rm", (JSON.parse(again.stdout) as { id: string }).id]);
    expect(rm.code, show(rm)).toBe(0);
    expect(mountsWith(dir)).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
  });
});
