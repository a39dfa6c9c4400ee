// Bad pod configs through the CLI: exit 2 naming the field, and nothing created, not even the
// state dir.
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeSandbox, SandboxEnv, show } from "./support/sandbox.js";

const md = { name: "web", namespace: "default" };
const network = (value: unknown) => ({
  metadata: md,
  linux: { security_context: { namespace_options: { network: value } } },
});

/** [what, the config (a string is written as is), what stderr must name (every problem is reported)]. */
const cases: [string, unknown, string[]][] = [
  [
    "wrong types",
    { metadata: { name: 5, namespace: "default", attempt: -1 }, hostname: ["web"], labels: ["a"] },
    [
      "metadata.name: must be a string",
      "metadata.attempt: must be an integer",
      "hostname: must be a string",
      "labels: must be an object",
    ],
  ],
  ["metadata of the wrong type", { metadata: "web" }, ["metadata: must be an object"]],
  ["no metadata", { hostname: "web" }, ["metadata: is required"]],
  ["no metadata.name", { metadata: { namespace: "default" } }, ["metadata.name: is required"]],
  ["no metadata.namespace", { metadata: { name: "web" } }, ["metadata.namespace: is required"]],
  [
    "names that are not DNS labels",
    { metadata: { name: "Web_1", namespace: "a.b" } },
    ["metadata.name: must be a DNS label", "metadata.namespace: must be a DNS label"],
  ],
  [
    "path tricks in the names",
    { metadata: { name: "../../etc", namespace: "a/b" } },
    ["metadata.name: must be a DNS label", "metadata.namespace: must be a DNS label"],
  ],
  // log_directory is not implemented (see hygiene.root.test.ts): refused whatever it says.
  ["a relative log_directory", { metadata: md, log_directory: "../logs" }, ["log_directory: is not supported"]],
  [
    "NUL bytes",
    { metadata: { name: "we\u0000b", namespace: "default", uid: "u\u00001" }, log_directory: "/var/log/\u0000x" },
    [
      "metadata.name: must be a DNS label",
      "metadata.uid: must not contain control characters",
      "log_directory: is not supported",
    ],
  ],
  [
    "an unknown network mode",
    network("HOST"),
    ['linux.security_context.namespace_options.network: must be "POD" (0) or "NODE" (2), got "HOST"'],
  ],
  ["an unknown numeric network mode", network(1), ["linux.security_context.namespace_options.network: must be"]],
  ["a JSON array", "[]", ["(root): must be a JSON object"]],
  ["invalid JSON", '{"metadata": {"name": "web",', ["is not valid JSON"]],
  ["a raw NUL byte in the file", '{"metadata": {"name": "we\u0000b", "namespace": "default"}}', ["is not valid JSON"]],
];

describeSandbox("sandbox-runner bad pod configs (root, through the CLI)", () => {
  const env = new SandboxEnv(1);
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  it.concurrent.each(cases)("rejects %s: exit 2, the field named, nothing created", async (_what, config, messages) => {
    const lane = env.lane();
    const r = await lane.cli(["run", env.podConfig(config, "bad")]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stdout).toBe("");
    for (const m of messages) expect(r.stderr).toContain(m);
    expect(existsSync(lane.stateDir), "the state dir was created").toBe(false);
  });

  it.concurrent("rejects a pod config file that does not exist, and one on stdin with --json", async () => {
    const lane = env.lane();
    const missing = await lane.cli(["run", path.join(env.work, "no-such-pod.json")]);
    expect(missing.code, show(missing)).toBe(2);
    expect(missing.stderr).toContain("cannot read pod config");
    const stdin = await lane.cli(["--json", "run", "-"], { input: JSON.stringify({ metadata: { name: "web" } }) });
    expect(stdin.code, show(stdin)).toBe(2);
    expect(stdin.stdout).toBe("");
    expect(stdin.stderr).toContain("metadata.namespace: is required");
    expect(existsSync(lane.stateDir)).toBe(false);
  });
});
