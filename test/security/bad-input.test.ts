// Bad input, no root needed: hostile pod configs through parsePodConfig (thousands of generated
// ones, in-process), bad CLI arguments (exit 2, a message, nothing created), and bad sandbox ids
// for stop / rm / inspect (no crash, nothing outside the state dir touched).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, parsePodConfig, type PodConfig } from "../../examples/sandbox-runner/pod-config.js";
import { Runner } from "../../examples/sandbox-runner/runner/index.js";
import { anyPodInput, nastyStrings, podConfigish } from "./arbitraries.js";
import { cli, removeWorkDirs, show, stackLines, tree, workDir } from "./support.js";

afterAll(removeWorkDirs);

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// eslint-disable-next-line no-control-regex
const control = /[\u0000-\u001f\u007f]/;
/** Every field path parsePodConfig may name. */
const fieldPath =
  /^(\(root\)|metadata(\.(name|namespace|uid|attempt))?|hostname|log_directory|dns_config|(labels|annotations)(\[".*"\])?|linux(\.security_context(\.namespace_options(\.network)?)?)?)$/s;

/** What an accepted config must look like, whatever came in. */
function expectSafe(config: PodConfig): void {
  const { name, namespace, uid, attempt } = config.metadata;
  expect(name).toMatch(dnsLabel);
  expect(namespace).toMatch(dnsLabel);
  expect(uid.length).toBeLessThanOrEqual(128);
  expect(Number.isInteger(attempt) && attempt >= 0 && attempt <= 0xffffffff).toBe(true);
  if (config.hostname !== undefined) {
    expect(config.hostname.split(".").every((p) => dnsLabel.test(p))).toBe(true);
  }
  const texts = [uid, ...Object.entries(config.labels).flat(), ...Object.entries(config.annotations).flat()];
  for (const t of texts) {
    expect(typeof t).toBe("string");
    expect(t).not.toMatch(control);
  }
  expect(typeof config.hostNetwork).toBe("boolean");
}

/** What a refusal must look like: a ConfigError naming known fields, in a message safe to print. */
function expectNamedRefusal(error: unknown): void {
  expect(error).toBeInstanceOf(ConfigError);
  const e = error as ConfigError;
  expect(e.problems.length).toBeGreaterThan(0);
  for (const p of e.problems) {
    expect(p.field).toMatch(fieldPath);
    expect(p.reason.length).toBeGreaterThan(0);
    expect(e.message).toContain(`${p.field}: `);
  }
  // Raw control characters (NUL, ESC, DEL, C1 CSI...) from the input never reach a terminal through the message.
  // eslint-disable-next-line no-control-regex
  expect(e.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
}

function check(raw: unknown): void {
  let result;
  try {
    result = parsePodConfig(raw);
  } catch (thrown) {
    throw new Error(`parsePodConfig threw: ${String(thrown)}`);
  }
  if (result.isOk()) expectSafe(result.value);
  else expectNamedRefusal(result.error);
}

describe("parsePodConfig on hostile input (in-process, fast-check)", () => {
  it("never throws: random JSON, any JS value and hostile pod configs (3000 runs)", () => {
    fc.assert(fc.property(anyPodInput, check), { numRuns: 3000 });
  });

  it("never throws on what the CLI hands it: configs round-tripped through JSON text (2000 runs)", () => {
    fc.assert(
      fc.property(podConfigish, (raw) => {
        check(JSON.parse(JSON.stringify(raw) ?? "null"));
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses a path trick, NUL or control character in every name-like field, naming the field", () => {
    const tricks = nastyStrings.filter((s) => !dnsLabel.test(s));
    const base = { metadata: { name: "web", namespace: "default", uid: "u" } };
    for (const t of tricks) {
      for (const [field, config] of [
        ["metadata.name", { ...base, metadata: { ...base.metadata, name: t } }],
        ["metadata.namespace", { ...base, metadata: { ...base.metadata, namespace: t } }],
      ] as const) {
        const r = parsePodConfig(config);
        expect(r.isErr(), `${field} = ${JSON.stringify(t)}`).toBe(true);
        expect(r._unsafeUnwrapErr().problems.map((p) => p.field)).toEqual([field]);
      }
      if (t !== "" && t.split(".").some((p) => !dnsLabel.test(p))) {
        expect(
          parsePodConfig({ ...base, hostname: t })
            ._unsafeUnwrapErr()
            .problems.map((p) => p.field),
          `hostname ${JSON.stringify(t)}`,
        ).toEqual(["hostname"]);
      }
      if (control.test(t)) {
        for (const [field, config] of [
          ["metadata.uid", { ...base, metadata: { ...base.metadata, uid: t } }],
          ["log_directory", { ...base, log_directory: `/var/log/${t}` }],
          [`labels["a"]`, { ...base, labels: { a: t } }],
          ["dns_config", { ...base, dns_config: { searches: [t] } }],
        ] as const) {
          expect(
            parsePodConfig(config)
              ._unsafeUnwrapErr()
              .problems.map((p) => p.field),
            `${field} = ${JSON.stringify(t)}`,
          ).toEqual([field]);
        }
      }
    }
    // DEL and C1 controls (CSI is U+009B), which JSON.stringify leaves raw, in a label key and a value quoted back.
    check({
      ...base,
      labels: { "\u009b31m\u007f": "\n" },
      linux: { security_context: { namespace_options: { network: "\u009b2J\u2028" } } },
    });
    for (const dir of ["relative", "../x", "/var/log/../../etc", "/a/..", "/a\0b"]) {
      expect(
        parsePodConfig({ ...base, log_directory: dir })
          ._unsafeUnwrapErr()
          .problems.map((p) => p.field),
        dir,
      ).toEqual(["log_directory"]);
    }
  });
});

describe("bad CLI arguments: exit 2 and a message, nothing created", () => {
  const work = workDir("args");
  const stateDir = path.join(work, "state");
  const pod = path.join(work, "pod.json");
  writeFileSync(pod, JSON.stringify({ metadata: { name: "web", namespace: "default" } }));
  const cases: [string, string[], RegExp][] = [
    ["no command", [], /a command is required/],
    ["an unknown command", ["frobnicate"], /unknown command "frobnicate"/],
    ["an unknown option", ["--bogus", "ls"], /Unknown option '--bogus'/],
    ["a missing argument (run)", ["run"], /run takes one argument/],
    ["an extra argument (ls)", ["ls", "extra"], /ls takes no arguments/],
    ["a relative --state-dir", ["--state-dir", "relative/state", "ls"], /--state-dir must be an absolute path/],
    ["a --prefix with a slash", ["--prefix", "../x", "ls"], /--prefix must be 3-24 characters/],
    ["a --prefix of another runtime (cni-)", ["--prefix", "cni-", "ls"], /--prefix "cni-" collides with "cni-"/],
    ["a --prefix too short to be ours", ["--prefix", "e-", "ls"], /--prefix must be 3-24 characters/],
    ["a --failpoint on an unknown step", ["--failpoint", "nope=error", "run", pod], /unknown step or cleanup "nope"/],
    [
      "a --failpoint with a bad action",
      ["--failpoint", "cni-add=explode", "run", pod],
      /the action must be error, delay:MS or crash/,
    ],
    ["--dry-run off gc", ["--dry-run", "ls"], /--dry-run applies to gc only/],
  ];
  it.concurrent.each(cases)("%s", async (_what, args, message) => {
    // Every case but the relative ones names our state dir, which must not appear.
    const own = args.some((a) => a === "--state-dir") ? [] : ["--state-dir", stateDir];
    const r = await cli([...own, ...args]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^sandbox-runner: /);
    expect(stackLines(r.stderr), show(r)).toEqual([]);
    expect(r.stdout).toBe("");
    expect(existsSync(stateDir), "the state dir was created").toBe(false);
    expect(existsSync(path.join(process.cwd(), "relative"))).toBe(false);
  });
});

describe("bad sandbox ids for stop / rm / inspect: no crash, nothing outside the state dir touched", () => {
  const work = workDir("ids");
  const stateDir = path.join(work, "state");
  // A canary shaped like a sandbox record, where `<state>/sandboxes/../../canary.json` would find it:
  // an id treated as a path would read it, rewrite it and delete it.
  const canary = path.join(work, "canary.json");
  const canaryText = `${JSON.stringify({ v: 1, id: "../../canary", name: "x", namespace: "y", uid: "", attempt: 0, state: "READY", createdAt: "", hostNetwork: true, netnsPath: null, ip: null, hostname: null, labels: {}, annotations: {}, resources: [], steps: [], error: null })}\n`;
  writeFileSync(canary, canaryText);
  mkdirSync(path.join(work, "etc"));
  writeFileSync(path.join(work, "etc", "passwd"), "canary\n");
  const before = tree(work);
  const ids = [
    "../../canary",
    "../../etc/passwd",
    "/etc/passwd",
    path.join(work, "canary"),
    "",
    "a".repeat(4000),
    "ü😀\u202e",
    "0123456789abcdef0123456789abcdef",
    "abcd",
    "-rf",
    "--",
    "..",
  ];

  afterAll(() => {
    expect(readFileSync(canary, "utf8")).toBe(canaryText);
    expect(readFileSync(path.join(work, "etc", "passwd"), "utf8")).toBe("canary\n");
  });

  // Through the CLI (each spawn costs a second of CPU, so a selection; all of them in-process below).
  const cliCases: [string, string][] = [
    ["rm", "../../canary"],
    ["stop", "../../canary"],
    ["inspect", "../../canary"],
    ["rm", "/etc/passwd"],
    ["inspect", "../../etc/passwd"],
    ["rm", ""],
    ["stop", "a".repeat(4000)],
    ["rm", "ü😀\u202e"],
    ["rm", "-rf"],
  ];
  it.concurrent.each(
    cliCases.map(([c, id]) => [c, JSON.stringify(id.length > 40 ? `${id.slice(0, 8)}...(${id.length})` : id), id]),
  )("%s %s", async (command, _label, id) => {
    // `--` first: an id that looks like an option is still an id.
    const r = await cli(["--state-dir", stateDir, "-q", command, "--", id]);
    expect(stackLines(r.stderr), show(r)).toEqual([]);
    if (command === "inspect") {
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toContain("sandbox-runner: no sandbox");
    } else {
      // stop and rm of an unknown id succeed (the CRI's idempotency).
      expect(r.code, show(r)).toBe(0);
    }
    expect(r.stdout).toBe("");
    expect(readFileSync(canary, "utf8")).toBe(canaryText);
  });

  it("in-process, with ids no argv can carry (NUL): unknown, and nothing outside the state dir touched", async () => {
    const runner = await Runner.open({ stateDir, lockWaitMs: 15_000 });
    try {
      for (const id of [
        ...ids,
        "\0",
        "../\0../canary",
        "0123456789abcdef0123456789abcde\0",
        "0123456789ABCDEF0123456789ABCDEF",
      ]) {
        expect((await runner.stop(id))._unsafeUnwrap(), JSON.stringify(id)).toBeUndefined();
        expect((await runner.remove(id))._unsafeUnwrap(), JSON.stringify(id)).toBeUndefined();
        expect(await runner.store.resolve(id), JSON.stringify(id)).toBeUndefined();
      }
    } finally {
      await runner.close();
    }
    expect(readFileSync(canary, "utf8")).toBe(canaryText);
    const outside = tree(work).filter((p) => p !== "state" && !p.startsWith(`state${path.sep}`));
    expect(outside).toEqual(before.filter((p) => p !== "state" && !p.startsWith(`state${path.sep}`)));
  });
});
