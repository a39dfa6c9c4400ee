// The CLI's command table and exit-code table: USAGE lists every command and option from the
// tables, and an ambiguous id prefix is the same usage error (exit 2) from every command.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { COMMANDS } from "../../examples/sandbox-runner/cli/commands.js";
import { EXIT_CODES } from "../../examples/sandbox-runner/cli/exit-codes.js";
import { usage } from "../../examples/sandbox-runner/cli/main.js";
import { OPTIONS } from "../../examples/sandbox-runner/cli/options.js";
import { spawnRunner } from "errdefer/host";
import { Ownership } from "../../examples/sandbox-runner/ownership.js";
import { runnerAdapters } from "../../examples/sandbox-runner/resources.js";
import { runPodSandboxSaga, STEPS } from "../../examples/sandbox-runner/runner/steps.js";
import { stateLayout, Store } from "../../examples/sandbox-runner/store.js";
import { runPrefix } from "../support/run-prefix.js";
import { cli, repoRoot, show } from "./support/sandbox.js";

const work = mkdtempSync(path.join(os.tmpdir(), `${runPrefix}cli-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the command table", () => {
  it("gives USAGE a line per command (its arguments and options) and per option", () => {
    const text = usage();
    const literal = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    for (const c of COMMANDS)
      expect(text).toMatch(
        new RegExp(`^  ${literal([c.name, ...c.args].join(" "))}\\W.*${literal(c.usage.slice(0, 20))}`, "m"),
      );
    expect(text).toContain("gc [--dry-run]");
    expect(text).toContain("rm [ID...] [--force] [--quarantine] [-a]");
    expect(text).toContain("ls [-o json|yaml|table]");
    expect(text).toContain("(crictl: runp)");
    for (const name of Object.keys(OPTIONS)) expect(text).toContain(`--${name}`);
  });

  it("maps each error code to exit 2 (usage, config, ambiguous id: nothing was done), 1, 3 (rm --force left something), or 130 / 143 (a run stopped by SIGINT / SIGTERM)", () => {
    expect(Object.fromEntries(Object.entries(EXIT_CODES).map(([code, row]) => [code, row.exit]))).toEqual({
      usage: 2,
      "invalid-config": 2,
      "ambiguous-id": 2,
      "not-found": 1,
      "operation-failed": 1,
      abandoned: 3,
      interrupted: 130,
      terminated: 143,
    });
  });

  it("builds the RunPodSandbox saga from the one step table", () => {
    const layout = stateLayout(path.join(work, "unused"));
    const parts = {
      layout,
      store: new Store(layout),
      exec: spawnRunner(),
      netnsDir: work,
      prefix: "x-",
      owner: new Ownership("0123abcd", "x-"),
      cniBinDir: work,
      cniDataDir: work,
      network: () => Promise.reject(new Error("not loaded in this test")),
    };
    const saga = runPodSandboxSaga(runnerAdapters(parts), new Map(), () => Promise.reject(new Error("not run")));
    expect(saga.stepNames).toEqual(STEPS.map((s) => s.step));
  });

  it("`steps` prints that table", async () => {
    const r = await cli(["steps", "--json"]);
    expect(r.code, show(r)).toBe(0);
    expect((JSON.parse(r.stdout) as { step: string }[]).map((s) => s.step)).toEqual(STEPS.map((s) => s.step));
  });
});

describe("an ambiguous id prefix", () => {
  const stateDir = path.join(work, "state");
  const ids = ["abcd0000000000000000000000000001", "abcd0000000000000000000000000002"];
  mkdirSync(path.join(stateDir, "sandboxes"), { recursive: true, mode: 0o700 });
  for (const [i, id] of ids.entries()) {
    const record = {
      v: 1,
      id,
      name: `web-${i}`,
      namespace: "default",
      uid: "",
      attempt: 0,
      state: "NOTREADY",
      createdAt: `2026-01-01T00:00:0${i}.000Z`,
      hostNetwork: true,
      netnsPath: null,
      ip: null,
      hostname: null,
      labels: {},
      annotations: {},
      // Nothing a release could touch: an ambiguous id must fail before any release anyway.
      resources: [],
      steps: [],
      error: null,
    };
    writeFileSync(path.join(stateDir, "sandboxes", `${id}.json`), JSON.stringify(record));
  }

  it.concurrent.each(["inspect", "stop", "rm"])(
    "%s: exit 2, says to give more of the id, changes nothing",
    async (command) => {
      const r = await cli(["--state-dir", stateDir, "-q", command, "abcd"]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain('sandbox-runner: sandbox id prefix "abcd" is ambiguous: it matches 2 sandboxes');
      expect(r.stderr).toContain("give more of the id");
      expect(r.stdout).toBe("");
      expect(readdirSync(path.join(stateDir, "sandboxes")).sort()).toEqual(ids.map((id) => `${id}.json`));
    },
  );

  it("inspect of a unique prefix finds it; of an unknown one exits 1", async () => {
    const found = await cli(["--state-dir", stateDir, "--json", "inspect", "abcd0000000000000000000000000002"]);
    expect(found.code, show(found)).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({ id: ids[1], name: "web-1" });
    const unknown = await cli(["--state-dir", stateDir, "inspect", "ffff"]);
    expect(unknown.code, show(unknown)).toBe(1);
    expect(unknown.stderr).toContain('sandbox-runner: no sandbox "ffff"');
  });
});

/** The records of the ambiguous-prefix state dir above, as CRI's messages: crictl's exact JSON. */
describe("crictl's names and output (the records above; no root needed)", () => {
  const stateDir = path.join(work, "state");
  const ids = ["abcd0000000000000000000000000001", "abcd0000000000000000000000000002"];
  const opts = ["--state-dir", stateDir, "-q"];
  const metadata = (i: number) => ({ name: `web-${i}`, uid: "", namespace: "default", attempt: 0 });

  it("pods -o json is a ListPodSandboxResponse as crictl prints it; -o yaml the same object", async () => {
    const r = await cli(["--state-dir", stateDir, "pods", "-o", "json"]);
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      items: [0, 1].map((i) => ({
        id: `abcd000000000000000000000000000${i + 1}`,
        metadata: metadata(i),
        state: "SANDBOX_NOTREADY",
        // 2026-01-01T00:00:0i.000Z in nanoseconds, as a string (int64 in protobuf JSON).
        createdAt: `${1767225600 + i}000000000`,
        labels: {},
        annotations: {},
        runtimeHandler: "",
      })),
    });
    // What a jq script written for crictl reads: .items[].id, .items[].metadata.name.
    const yaml = await cli(["--state-dir", stateDir, "ls", "-o", "yaml"]);
    expect(yaml.code, show(yaml)).toBe(0);
    expect(parseYaml(yaml.stdout)).toEqual(JSON.parse(r.stdout));
  });

  it("inspectp -o json is {status, info} as crictl inspectp prints it; -o table a summary", async () => {
    const r = await cli([...opts, "inspectp", "abcd0000000000000000000000000002", "-o", "json"]);
    expect(r.code, show(r)).toBe(0);
    const shown = JSON.parse(r.stdout) as { status: Record<string, unknown>; info: Record<string, unknown> };
    expect(shown.status).toEqual({
      id: "abcd0000000000000000000000000002",
      metadata: metadata(1),
      state: "SANDBOX_NOTREADY",
      createdAt: "2026-01-01T00:00:01Z",
      network: { ip: "", additionalIps: [] },
      linux: { namespaces: { options: { network: "NODE", pid: "POD", ipc: "POD", targetId: "" } } },
      labels: {},
      annotations: {},
      runtimeHandler: "",
    });
    expect(shown.info).toMatchObject({ netnsPath: null, hostNetwork: true, resources: [], steps: [] });
    const table = await cli([...opts, "inspect", "abcd0000000000000000000000000002", "-o", "table"]);
    expect(table.stdout).toMatch(/^Status: +SANDBOX_NOTREADY$/m);
  });

  it("ls -q prints the ids only; --json keeps its own JSON", async () => {
    const q = await cli([...opts, "ls"]);
    expect(q.stdout).toBe("abcd0000000000000000000000000001\nabcd0000000000000000000000000002\n");
    const json = await cli([...opts, "--json", "pods"]);
    expect((JSON.parse(json.stdout) as { id: string; state: string }[]).map((s) => s.state)).toEqual([
      "NOTREADY",
      "NOTREADY",
    ]);
  });

  it("version and --version say who we are; -o json as crictl version -o json", async () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string };
    const flag = await cli(["--version"]);
    expect(flag.stdout).toBe(`errdefer-sandbox version ${version}\n`);
    const text = await cli(["version"]);
    expect(text.stdout).toBe(
      `Version:  0.1.0\nRuntimeName:  errdefer\nRuntimeVersion:  ${version}\nRuntimeApiVersion:  v1\n`,
    );
    const json = await cli(["version", "-o", "json"]);
    expect(JSON.parse(json.stdout)).toEqual({
      version: "0.1.0",
      runtimeName: "errdefer",
      runtimeVersion: version,
      runtimeApiVersion: "v1",
    });
  });

  it.concurrent.each([
    ["-o of another format", ["ls", "-o", "xml"], '-o must be one of json, yaml, table, not "xml"'],
    [
      "-o on a command without output",
      ["stop", "x", "-o", "json"],
      "--output applies to run, ls, inspect, version only",
    ],
    ["stop without ids", ["stopp"], "stopp takes one or more arguments"],
    ["rm without ids or -a", ["rmp"], "rm takes one or more ids, or -a (--all)"],
    ["rm -a with ids", ["rm", "-a", "abcd"], "rm: give ids or -a (--all), not both"],
    ["inspect of two ids", ["inspectp", "a", "b"], "inspectp takes one argument"],
  ])("%s: exit 2, saying why, nothing done", async (_what, args, message) => {
    const r = await cli([...opts, ...args]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(`sandbox-runner: ${message}`);
    expect(readdirSync(path.join(stateDir, "sandboxes")).sort()).toEqual(ids.map((id) => `${id}.json`));
  });

  it("rm of several ids: each in turn, unknown ones ok; an ambiguous one fails (exit 2), the others still done", async () => {
    const dir = path.join(work, "several");
    const r = await cli(["--state-dir", dir, "-q", "--json", "rmp", "ffff0001", "eeee0002"]);
    expect(r.code, show(r)).toBe(0);
    expect(
      r.stdout
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([
      { id: "ffff0001", ok: true },
      { id: "eeee0002", ok: true },
    ]);
    const stop = await cli(["--state-dir", stateDir, "-q", "--json", "stopp", "ffff", "abcd", "eeee"]);
    expect(stop.code, show(stop)).toBe(2);
    expect(stop.stderr).toContain('sandbox id prefix "abcd" is ambiguous');
    expect(
      stop.stdout
        .trimEnd()
        .split("\n")
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual(["ffff", "eeee"]);
  });
});

describe("YAML pod configs, as crictl reads them (refused before anything is created)", () => {
  const stateDir = path.join(work, "yaml-state");
  const write = (name: string, text: string): string => {
    const file = path.join(work, name);
    writeFileSync(file, text);
    return file;
  };

  it.concurrent.each([
    // By extension: .yaml / .yml.
    [
      "a wrong type, in YAML",
      "bad.yaml",
      "metadata:\n  name: 5\n  namespace: default\n",
      "metadata.name: must be a string",
    ],
    [
      "a name that is not a DNS label (.yml)",
      "bad.yml",
      "metadata: {name: Web_1, namespace: default}\n",
      "metadata.name: must be a DNS label",
    ],
    // By content: not starting with `{`.
    ["YAML under another extension", "pod.conf", "metadata:\n  namespace: default\n", "metadata.name: is required"],
    [
      "a CRI field not implemented, snake_case as in JSON",
      "u.yaml",
      "metadata: {name: w, namespace: d}\nlog_directory: /x\n",
      "log_directory: is not supported",
    ],
  ])("%s: exit 2 naming the field", async (_what, name, text, message) => {
    const r = await cli(["--state-dir", stateDir, "-q", "run", write(name, text)]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(message);
    expect(existsSync(stateDir)).toBe(false);
  });

  it.concurrent.each([
    ["a nested mapping", "metadata:\n  name: SECRET: x\n", "line 2, column 9 (BLOCK_AS_IMPLICIT_KEY)"],
    ["a duplicate key", "metadata: {}\nmetadata: SECRET\n", "line 2, column 1 (DUPLICATE_KEY)"],
    ["an alias without its anchor", "metadata: *SECRET\n", "(ReferenceError: too many or unresolved aliases)"],
    ["two documents", "a: 1\n---\nSECRET: 2\n", "(MULTIPLE_DOCS)"],
  ])("not YAML (%s): exit 2, by position, quoting nothing", async (_what, text, where) => {
    const r = await cli(["--state-dir", stateDir, "-q", "run", "-"], { input: text });
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(`sandbox-runner: pod config - is not`);
    expect(r.stderr).toContain(where);
    expect(r.stderr).not.toContain("SECRET");
    expect(existsSync(stateDir)).toBe(false);
  });

  it("a YAML config over 1 MiB: the same limit as JSON", async () => {
    const r = await cli(["--state-dir", stateDir, "-q", "run", write("big.yaml", `a: "${"x".repeat(1 << 20)}"\n`)]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain("is larger than 1 MiB (1048576 bytes), the limit");
  });
});
