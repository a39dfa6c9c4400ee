// Security review, paths (no root needed):
//  a. the state dir and the journal refuse a symlink and a group/world-writable (or foreign) dir:
//     the CLI exits 1 with a clear message and creates nothing. FileJournal's own refusals are
//     tested in test/journal/file-journal.test.ts ("unsafe journal dirs"); here the runner's.
//  b. no name or id can address a path outside our dirs: sandbox ids (isSandboxId), name
//     reservation files (hashed), and descriptions in a dead runner's journal that point outside
//     the state dir (recover refuses them with ForeignPathError, and the canaries survive).
import { randomUUID } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePodConfig } from "../../examples/sandbox-runner/pod-config.js";
import { ForeignPathError } from "../../examples/sandbox-runner/resources.js";
import { Runner } from "../../examples/sandbox-runner/runner/index.js";
import { isSandboxId, sandboxKey, stateLayout, Store } from "../../examples/sandbox-runner/store.js";
import { deadIdentity, writeSegment, type Identity } from "../support/journal.js";
import { anyString, nastyStrings } from "./arbitraries.js";
import { cli, removeWorkDirs, runPrefix, show, stackLines, tree, workDir } from "./support.js";

afterAll(removeWorkDirs);

const hex32 = () => randomUUID().replaceAll("-", "");
const isRoot = process.getuid?.() === 0;

describe("a. the state dir: never through a symlink, never a shared or foreign dir", () => {
  /** A dir the runner must refuse; `real` is where things would be created if it did not. */
  function unsafe(kind: "symlink" | number | "foreign"): { stateDir: string; real: string } {
    const work = workDir("unsafe");
    const real = path.join(work, "real");
    mkdirSync(real, { mode: 0o700 });
    if (kind === "symlink") {
      const link = path.join(work, "link");
      symlinkSync(real, link);
      return { stateDir: link, real };
    }
    if (kind === "foreign") chownSync(real, 65534, 65534);
    else chmodSync(real, kind);
    return { stateDir: real, real };
  }

  it.concurrent.each([
    ["a symlink to a private dir", "symlink", /state dir|journal directory .*link is a symlink; refusing to use it/],
    ["a world-writable dir (0777)", 0o777, /is group- or world-writable \(mode 0777\); refusing to use it/],
  ] as const)("CLI: %s: exit 1, a clear message, nothing created", async (_what, kind, message) => {
    const { stateDir, real } = unsafe(kind);
    const r = await cli(["--state-dir", stateDir, "ls"]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(stateDir);
    expect(stackLines(r.stderr)).toEqual([]);
    expect(tree(real), "nothing created").toEqual([]);
  });

  it.each([
    ["a symlink", "symlink", "symlink"],
    ["a group-writable dir (0770)", 0o770, "group- or world-writable"],
    ["a group-writable dir (0730)", 0o730, "group- or world-writable"],
    ["a world-writable dir (0702)", 0o702, "group- or world-writable"],
    ...(isRoot ? ([["a dir owned by another user", "foreign", "owned by uid 65534"]] as const) : []),
  ] as const)("Runner.open: %s is refused, nothing created", async (_what, kind, message) => {
    const { stateDir, real } = unsafe(kind);
    const opened = await Runner.open({ stateDir, lockWaitMs: 1000 }).then(
      async (runner) => {
        await runner.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect((opened as { code?: unknown }).code).toBe("unsafe-dir");
    expect((opened as Error).message).toContain(message);
    expect(tree(real)).toEqual([]);
  });
});

/** Journal lines of a dead RunPodSandbox that acquired one resource described as `desc`. */
function abandoned(step: string, kind: string, desc: unknown): { tx: string; text: string } {
  const tx = randomUUID();
  const lines = [
    { v: 1, tx, t: "begin", name: "RunPodSandbox", at: Date.now() },
    { v: 1, tx, t: "intent", step, kind, guard: false, desc },
    { v: 1, tx, t: "acquired", step, desc },
  ];
  return { tx, text: lines.map((l) => `${JSON.stringify(l)}\n`).join("") };
}

let dead: Identity;
beforeAll(async () => {
  dead = await deadIdentity();
});

describe("a. the journal dir inside the state dir: never a symlink or a shared dir", () => {
  /** A state dir whose journal holds a dead run's bundle (a real one): an unsafe journal must not release it. */
  async function setUp(make: (journal: string, work: string) => void) {
    const work = workDir("jrnl");
    const stateDir = path.join(work, "state");
    const runner = await Runner.open({
      stateDir,
      netnsDir: path.join(work, "netns"),
      prefix: `${runPrefix}j-`,
      lockWaitMs: 5000,
    });
    await runner.close();
    const id = hex32();
    const bundle = path.join(stateDir, "bundles", id);
    mkdirSync(bundle);
    writeFileSync(path.join(bundle, "config.json"), "{}");
    const elsewhere = path.join(work, "elsewhere");
    mkdirSync(elsewhere, { mode: 0o700 });
    writeSegment(
      elsewhere,
      dead,
      abandoned("create-bundle", "bundle", { id, dir: bundle, hostname: "h", netnsPath: null, cgroupsPath: `/x${id}` })
        .text,
    );
    make(path.join(stateDir, "journal"), elsewhere);
    return { stateDir, bundle, work };
  }

  it("CLI recover with <state>/journal a symlink: exit 1, names the journal dir, releases nothing", async () => {
    const { stateDir, bundle } = await setUp((journal, elsewhere) => symlinkSync(elsewhere, journal));
    const r = await cli([
      "--state-dir",
      stateDir,
      "--netns-dir",
      path.join(stateDir, "..", "netns"),
      "--prefix",
      `${runPrefix}j-`,
      "recover",
    ]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain(`journal directory ${path.join(stateDir, "journal")} is a symlink; refusing to use it`);
    expect(stackLines(r.stderr)).toEqual([]);
    expect(existsSync(bundle), "the journalled bundle was released").toBe(true);
  });

  it.each([0o777, 0o770, 0o702])(
    "Runner.recover with <state>/journal of mode %o: unsafe-dir, nothing released",
    async (mode) => {
      const { stateDir, bundle, work } = await setUp((journal, elsewhere) => {
        // The dir itself, made shared (a rename keeps the segment in it).
        mkdirSync(journal, { mode: 0o700 });
        for (const f of readdirSync(elsewhere))
          writeFileSync(path.join(journal, f), readFileSync(path.join(elsewhere, f)), { mode: 0o600 });
        chmodSync(journal, mode);
      });
      const runner = await Runner.open({
        stateDir,
        netnsDir: path.join(work, "netns"),
        prefix: `${runPrefix}j-`,
        lockWaitMs: 5000,
      });
      try {
        const r = await runner.recover();
        expect(r.isErr()).toBe(true);
        expect(r._unsafeUnwrapErr().code).toBe("unsafe-dir");
        expect(r._unsafeUnwrapErr().message).toContain("group- or world-writable");
      } finally {
        await runner.close().catch(() => undefined);
      }
      expect(existsSync(bundle), "the journalled bundle was released").toBe(true);
    },
  );
});

describe("b. ids and names never address a path", () => {
  const tricks = [
    ...nastyStrings,
    "0123456789abcdef0123456789abcde/",
    "0123456789ABCDEF0123456789ABCDEF",
    "../../../../../../../../../../etc",
    "0123456789abcdef0123456789abcdef\0",
    " 0123456789abcdef0123456789abcdef",
  ];

  it("isSandboxId accepts exactly 32 lowercase hex digits (fast-check, 5000 runs)", () => {
    for (const t of tricks) expect(isSandboxId(t), JSON.stringify(t)).toBe(false);
    for (const v of [undefined, null, 1, {}, ["0123456789abcdef0123456789abcdef"]]) expect(isSandboxId(v)).toBe(false);
    fc.assert(
      fc.property(fc.oneof(anyString, fc.stringMatching(/^[0-9a-f]{32}$/)), (s) => {
        expect(isSandboxId(s)).toBe(/^[0-9a-f]{32}$/.test(s));
      }),
      { numRuns: 5000 },
    );
  });

  it("the store refuses a non-id before touching a file; resolve finds nothing", async () => {
    const work = workDir("store");
    const store = new Store(stateLayout(path.join(work, "state")));
    const before = tree(work);
    for (const t of tricks) {
      await expect(store.read(t), JSON.stringify(t)).rejects.toThrow(TypeError);
      await expect(store.delete(t), JSON.stringify(t)).rejects.toThrow(TypeError);
      expect(await store.resolve(t), JSON.stringify(t)).toBeUndefined();
    }
    expect(tree(work)).toEqual(before);
  });

  it("a name reservation file is a hash in the names dir, whatever the name (fast-check, 3000 runs)", () => {
    const store = new Store(stateLayout("/state"));
    fc.assert(
      fc.property(fc.oneof(anyString, fc.constantFrom(...nastyStrings)), (key) => {
        const file = store.nameFile(key);
        expect(path.dirname(file)).toBe("/state/names");
        expect(path.basename(file)).toMatch(/^[0-9a-f]{40}\.json$/);
      }),
      { numRuns: 3000 },
    );
  });

  it("a pod whose uid is a path trick reserves its name inside the state dir, and nothing else is written", async () => {
    const work = workDir("uid");
    const stateDir = path.join(work, "state");
    const runner = await Runner.open({
      stateDir,
      netnsDir: path.join(work, "netns"),
      prefix: `${runPrefix}u-`,
      lockWaitMs: 5000,
    });
    try {
      // The parser lets a uid carry "/" and "..": it is only ever part of a hashed key.
      const uids = ["/../../../canary", "../../../../../../tmp/canary", "..", "/"];
      for (const uid of uids) {
        const config = parsePodConfig({
          metadata: { name: "web", namespace: "default", uid },
          linux: { security_context: { namespace_options: { network: "NODE" } } },
        })._unsafeUnwrap();
        // create-record fails and release-name too: the name stays reserved (and listed), for a look.
        const failpoints = new Map([
          ["create-record", [{ type: "error" as const }]],
          ["release-name", [{ type: "error" as const }]],
        ]);
        const r = await runner.run(config, { failpoints });
        expect(r.isErr()).toBe(true);
        const names = await runner.store.listNames();
        expect(names.map((n) => n.key)).toContain(sandboxKey(config.metadata));
        for (const n of names) expect(path.dirname(n.file)).toBe(path.join(stateDir, "names"));
      }
      expect(
        tree(work).filter((p) => !p.startsWith(`state${path.sep}`) && p !== "state"),
        "written outside the state dir",
      ).toEqual([]);
      expect(readdirSync(path.join(stateDir, "names")).length).toBe(uids.length);
      for (const record of await runner.list()) expect((await runner.remove(record.id)).isOk()).toBe(true);
      expect(readdirSync(path.join(stateDir, "names"))).toEqual([]);
    } finally {
      await runner.close();
    }
  });
});

describe("b. recover refuses journalled descriptions that point outside the state dir", () => {
  it("ForeignPathError for each, nothing released, every canary intact", async () => {
    const work = workDir("foreign");
    const stateDir = path.join(work, "state");
    const netnsDir = path.join(work, "netns");
    const prefix = `${runPrefix}f-`;
    mkdirSync(netnsDir, { mode: 0o700 });
    // Canaries: files and dirs outside the state dir (and one in our netns dir that is not ours).
    const canary = (name: string, dir = false) => {
      const p = path.join(work, name);
      if (dir) {
        mkdirSync(p);
        writeFileSync(path.join(p, "keep"), "canary");
      } else writeFileSync(p, "canary");
      return p;
    };
    const canaries = [
      canary("canary-bundle", true),
      canary("canary-bundle2", true),
      canary("canary-record.json"),
      canary("canary-ns"),
      canary("canary-container", true),
      path.join(netnsDir, "foreign-ns"),
    ];
    writeFileSync(path.join(netnsDir, "foreign-ns"), "canary");
    // CNI plugins that leave a trace when run: ours (the runner's --cni-bin-dir) and a stranger's.
    const plugin = (dir: string, trace: string) => {
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(
        path.join(dir, "loopback"),
        `#!/bin/sh\necho "$CNI_COMMAND $CNI_CONTAINERID $CNI_NETNS" >> ${trace}\necho '{"cniVersion":"1.0.0"}'\n`,
        { mode: 0o700 },
      );
    };
    const cniBinDir = path.join(work, "cni-bin");
    const ran = { ours: path.join(work, "ran-our-plugin"), evil: path.join(work, "ran-evil-plugin") };
    plugin(cniBinDir, ran.ours);
    plugin(path.join(work, "evil-bin"), ran.evil);
    const network = { cniVersion: "1.0.0", name: "errdefer", plugins: [{ type: "loopback" }] };
    const cni = (over: Record<string, unknown>) => ({
      containerId: hex32(),
      netnsPath: "",
      ifName: "eth0",
      binDir: cniBinDir,
      network,
      ...over,
    });
    const crafted = [
      // An id that is a path: rm -r <bundles>/../../canary-bundle would be the canary itself.
      {
        step: "create-bundle",
        kind: "bundle",
        desc: {
          id: "../../canary-bundle",
          dir: path.join(work, "canary-bundle"),
          hostname: "h",
          netnsPath: null,
          cgroupsPath: "/x",
        },
      },
      // A real-looking id with a dir outside the bundles dir.
      {
        step: "create-bundle",
        kind: "bundle",
        desc: {
          id: hex32(),
          dir: path.join(work, "canary-bundle2"),
          hostname: "h",
          netnsPath: null,
          cgroupsPath: "/x",
        },
      },
      { step: "create-record", kind: "sandbox-record", desc: { id: "../../canary-record" } },
      { step: "reserve-name", kind: "sandbox-name", desc: { key: "web_default__0", id: "../../canary-name" } },
      // A namespace "file" outside the netns dir, and one in it without our prefix.
      { step: "create-netns", kind: "netns", desc: { dir: work, name: "canary-ns" } },
      { step: "create-netns", kind: "netns", desc: { dir: netnsDir, name: "foreign-ns" } },
      { step: "create-netns", kind: "netns", desc: { dir: `${netnsDir}/../netns`, name: `${prefix}../../canary-ns` } },
      // CNI DEL runs plugins as root in CNI_NETNS: never for an id that is a path, never plugins
      // from another dir, never in a namespace not the sandbox's own (here: the host's).
      { step: "cni-add", kind: "cni", desc: cni({ containerId: "../../canary-cni" }) },
      { step: "cni-add", kind: "cni", desc: cni({ binDir: path.join(work, "evil-bin") }) },
      { step: "cni-add", kind: "cni", desc: cni({ netnsPath: "/proc/1/ns/net" }) },
      { step: "cni-add", kind: "cni", desc: cni({ netnsPath: path.join(netnsDir, "foreign-ns") }) },
      {
        step: "start-container",
        kind: "container",
        desc: { id: "../../canary-container", bundle: path.join(work, "canary-container") },
      },
    ];
    const runner = await Runner.open({ stateDir, netnsDir, prefix, cniBinDir, lockWaitMs: 5000 });
    try {
      const journalDir = path.join(stateDir, "journal");
      mkdirSync(journalDir, { mode: 0o700 });
      const txs = crafted.map((c) => ({ ...c, ...abandoned(c.step, c.kind, c.desc) }));
      writeSegment(journalDir, dead, txs.map((t) => t.text).join(""));
      const report = (await runner.recover())._unsafeUnwrap();
      expect(report.transactions).toBe(crafted.length);
      expect(report.released, "released something a description pointed at").toEqual([]);
      for (const t of txs) {
        const failed = report.failed.filter((f) => f.tx === t.tx);
        expect(
          failed.map((f) => f.step),
          JSON.stringify(t.desc),
        ).toEqual([t.step]);
        expect(failed[0]!.error, `${t.step} ${JSON.stringify(t.desc)}: ${String(failed[0]!.error)}`).toBeInstanceOf(
          ForeignPathError,
        );
      }
    } finally {
      await runner.close();
    }
    for (const c of canaries) expect(existsSync(c), `${c} was removed`).toBe(true);
    for (const trace of Object.values(ran))
      expect(existsSync(trace) ? readFileSync(trace, "utf8") : "", `a CNI plugin ran (${trace})`).toBe("");
    expect(readFileSync(path.join(work, "canary-bundle", "keep"), "utf8")).toBe("canary");
    expect(readFileSync(path.join(work, "canary-ns"), "utf8")).toBe("canary");
  });
});
