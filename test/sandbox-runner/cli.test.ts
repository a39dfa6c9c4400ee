// The CLI's command table and exit-code table: USAGE lists every command and option from the
// tables, and an ambiguous id prefix is the same usage error (exit 2) from every command.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
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
import { cli, show } from "./support/sandbox.js";

const work = mkdtempSync(path.join(os.tmpdir(), `${runPrefix}cli-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the command table", () => {
  it("gives USAGE a line per command (its arguments and options) and per option", () => {
    const text = usage();
    for (const c of COMMANDS)
      expect(text).toMatch(new RegExp(`^  ${[c.name, ...c.args].join(" ")}\\b.*${c.usage.slice(0, 20)}`, "m"));
    expect(text).toContain("gc [--dry-run]");
    expect(text).toContain("rm ID [--force]");
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
