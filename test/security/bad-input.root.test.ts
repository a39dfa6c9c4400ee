// Generated hostile pod configs through the real CLI (root: a config that is valid creates a real
// sandbox): only exit 0 or 2, never a stack trace, nothing created on exit 2, and a sandbox made by
// exit 0 is removed again. The seed is printed; SECURITY_SEED=<n> replays it.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, expect, it } from "vitest";
import { parsePodConfig } from "../../examples/sandbox-runner/pod-config.js";
import { anyPodInput, validHostileConfig } from "./arbitraries.js";
import {
  cli,
  deleteLink,
  describeSandbox,
  removeWorkDirs,
  runPrefix,
  show,
  stackLines,
  subnetBase,
  workDir,
} from "./support.js";

const seed = Number(process.env.SECURITY_SEED ?? Date.now() % 2 ** 31);

/** What the CLI must answer for a config file's text: exit 2 unless it parses and validates. */
function expectedExit(text: string): 0 | 2 {
  if (Buffer.byteLength(text) > 1 << 20) return 2;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 2;
  }
  return parsePodConfig(raw).isOk() ? 0 : 2;
}

const texts: string[] = [
  ...fc.sample(anyPodInput, { numRuns: 16, seed }).map((v) => JSON.stringify(v) ?? "null"),
  ...fc.sample(validHostileConfig, { numRuns: 4, seed }).map((v) => JSON.stringify(v)),
  "",
  '{"metadata": {"name": "web", "namespace": "default"',
  "\u0000\u0001\u0002 not json",
  `{"metadata":{"name":"web","namespace":"default"},"labels":{"a":${"[".repeat(20_000)}${"]".repeat(20_000)}}}`,
  JSON.stringify({ metadata: { name: "web", namespace: "default" }, annotations: { big: "x".repeat((1 << 20) + 1) } }),
];

describeSandbox(`hostile pod configs through the CLI (root; seed ${seed}, SECURITY_SEED=${seed} replays)`, () => {
  const work = workDir("cfg");
  const bridge = `${runPrefix}qb`;
  const base = subnetBase(0);
  afterAll(() => {
    deleteLink(bridge);
    const left = readdirSync("/var/run/netns").filter((n) => n.startsWith(`${runPrefix}q`));
    removeWorkDirs();
    expect(left, "namespaces left behind").toEqual([]);
  });

  it.concurrent.each(
    texts.map(
      (text, i) =>
        [
          i,
          expectedExit(text),
          JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}... (${text.length} chars)` : text),
          text,
        ] as const,
    ),
  )("config %i (expect exit %i): %s", async (i, expected, _shown, text) => {
    const file = path.join(work, `pod-${i}.json`);
    writeFileSync(file, text);
    const stateDir = path.join(work, `state-${i}`);
    // A /28 of the file's /24 per config: the configs run in parallel on one bridge.
    const opts = [
      "--state-dir",
      stateDir,
      "--prefix",
      `${runPrefix}q${i}-`,
      "--bridge",
      bridge,
      "--subnet",
      `${base}.${(i % 16) * 16}/28`,
      // host-local's allocations in the test's own dir, never the host's /var/lib/cni.
      "--cni-data-dir",
      path.join(work, `cni-${i}`),
      "-q",
    ];
    const r = await cli([...opts, "--json", "run", file]);
    const context = `seed ${seed}, config ${i}: ${text.slice(0, 300)}\n${show(r)}`;
    expect([0, 2], context).toContain(r.code);
    expect(r.code, context).toBe(expected);
    expect(stackLines(r.stderr), context).toEqual([]);
    if (r.code === 2) {
      expect(r.stderr, context).toMatch(
        /^sandbox-runner: (invalid pod config: |pod config .* (is not valid JSON|is larger than 1 MiB))/,
      );
      expect(r.stdout).toBe("");
      expect(existsSync(stateDir), `${context}\nexit 2 created the state dir`).toBe(false);
      return;
    }
    const { id } = JSON.parse(r.stdout) as { id: string };
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const rm = await cli([...opts, "rm", id]);
    expect(rm.code, `${context}\n${show(rm)}`).toBe(0);
    expect(readdirSync(path.join(stateDir, "sandboxes"))).toEqual([]);
    expect(readdirSync(path.join(stateDir, "names"))).toEqual([]);
    expect(readdirSync(path.join(stateDir, "bundles"))).toEqual([]);
    expect(readdirSync("/var/run/netns").filter((n) => n.startsWith(`${runPrefix}q${i}-`))).toEqual([]);
  });
});
