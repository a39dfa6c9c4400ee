// Security review, d (root): `gc` and `sweepNetns` never remove a namespace, interface or IP
// allocation outside our prefixes, and `gc --dry-run` shows what gc would do without doing it.
// Everything happens in a netns dir of the test's own (never /var/run/netns), so that even a
// broken prefix check cannot reach another runtime's namespaces.
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createNetns, listNetns, sweepNetns } from "../../src/netns/index.js";
import { Runner, type GcReport } from "../../examples/sandbox-runner/runner/index.js";
import type { SandboxRecord } from "../../examples/sandbox-runner/store.js";
import {
  cli,
  deleteLink,
  describeSandbox,
  linkExists,
  removeWorkDirs,
  runPrefix,
  show,
  subnetBase,
  tree,
  tryRun,
  workDir,
} from "./support.js";
import { idOf, otherTag, presetOwner } from "../support/state-owner.js";

const hex32 = () => randomUUID().replaceAll("-", "");

describeSandbox("d. gc and sweepNetns stay inside our prefixes (root)", () => {
  const work = workDir("gc");
  const stateDir = path.join(work, "state");
  const netnsDir = path.join(work, "netns");
  const prefix = `${runPrefix}g-`;
  const cniDataDir = path.join(work, "cni-networks");
  const bridge = `${runPrefix}gb`;
  // An interface of someone else's (no dummy module here: a veth pair).
  const dummy = `${runPrefix}gv`;
  const base = subnetBase(1);
  const opts = [
    "--state-dir",
    stateDir,
    "--netns-dir",
    netnsDir,
    "--prefix",
    prefix,
    "--bridge",
    bridge,
    "--subnet",
    `${base}.0/24`,
    "--cni-data-dir",
    cniDataDir,
    "-q",
  ];
  // Our ids carry the state dir's owner tag; `theirs` is another state dir's (same prefix).
  const tag = presetOwner(stateDir);
  const ours = () => idOf(tag);
  const [unowned, owned, orphanAlloc, orphanBundle, orphanName] = [ours(), ours(), ours(), ours(), ours()];
  const theirs = idOf(otherTag(tag));
  const foreignId = randomUUID().replaceAll("-", "").repeat(2);
  const ns = {
    unowned: `${prefix}${unowned}`,
    owned: `${prefix}${owned}`,
    // Another prefix, and one that shares ours up to the dash.
    foreign: `${runPrefix}h-${hex32()}`,
    lookalike: `${runPrefix}gx-${hex32()}`,
    // Our prefix, but another state dir's sandbox, or no sandbox id at all.
    theirs: `${prefix}${theirs}`,
    anything: `${prefix}anything`,
  };
  const allocDir = path.join(cniDataDir, "errdefer");
  const alloc = {
    foreign: path.join(allocDir, `${base}.10`),
    containerd: path.join(allocDir, `${base}.11`),
    orphan: path.join(allocDir, `${base}.12`),
    owned: path.join(allocDir, `${base}.13`),
    theirs: path.join(allocDir, `${base}.14`),
  };

  beforeAll(async () => {
    // The state dir, with a READY sandbox that owns a namespace and an IP.
    const runner = await Runner.open({ stateDir, netnsDir, prefix, cniDataDir, lockWaitMs: 10_000 });
    const record: SandboxRecord = {
      v: 1,
      id: owned,
      name: "web",
      namespace: "default",
      uid: "",
      attempt: 0,
      state: "READY",
      createdAt: new Date().toISOString(),
      hostNetwork: false,
      netnsPath: path.join(netnsDir, ns.owned),
      ip: `${base}.13`,
      hostname: null,
      labels: {},
      annotations: {},
      resources: [],
      steps: [],
      error: null,
    };
    await runner.store.write(record);
    expect(await runner.store.reserveName("web_default__0", owned)).toBeUndefined();
    expect(await runner.store.reserveName("orphan_default__0", orphanName)).toBeUndefined();
    await runner.close();
    for (const name of Object.values(ns)) (await createNetns({ dir: netnsDir, name }))._unsafeUnwrap();
    mkdirSync(allocDir, { recursive: true });
    writeFileSync(alloc.foreign, "k8s-foreign-pod\r\neth0");
    writeFileSync(alloc.containerd, `${foreignId}\r\neth0`);
    writeFileSync(alloc.orphan, `${orphanAlloc}\r\neth0`);
    writeFileSync(alloc.owned, `${owned}\r\neth0`);
    writeFileSync(alloc.theirs, `${theirs}\r\neth0`);
    mkdirSync(path.join(stateDir, "bundles", orphanBundle));
    mkdirSync(path.join(stateDir, "bundles", "not-a-sandbox"));
    mkdirSync(path.join(stateDir, "bundles", theirs));
    expect(tryRun("ip", ["link", "add", dummy, "type", "veth", "peer", "name", `${runPrefix}gw`])).toBe(true);
  });

  afterAll(async () => {
    deleteLink(dummy);
    deleteLink(bridge);
    for (const dir of [netnsDir, path.join(work, "sweep")]) {
      const listed = await listNetns({ dir });
      for (const n of listed.isOk() ? listed.value : []) await n.remove();
    }
    removeWorkDirs();
  });

  const namespaces = () => readdirSync(netnsDir).sort();
  const expected = (dryRun: boolean): GcReport => ({
    dryRun,
    netns: [path.join(netnsDir, ns.unowned)],
    allocations: [`${base}.12 (${orphanAlloc})`],
    containers: [],
    bundles: [orphanBundle],
    names: ["orphan_default__0"],
    failed: [],
  });

  it("gc --dry-run --json lists only our unowned things and changes nothing; gc then removes exactly those", async () => {
    const before = tree(stateDir);
    const dry = await cli([...opts, "--json", "gc", "--dry-run"]);
    expect(dry.code, show(dry)).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual(expected(true));
    expect(namespaces()).toEqual(Object.values(ns).sort());
    // The conflist gc loaded is the one thing a dry run may write (the default network config).
    expect(tree(stateDir).filter((p) => p !== "cni" && !p.startsWith(path.join("cni", "net.d")))).toEqual(before);

    const human = await cli([...opts, "gc", "--dry-run"]);
    expect(human.code, show(human)).toBe(0);
    expect(human.stdout).toContain(`would remove 1 netns: ${path.join(netnsDir, ns.unowned)}`);
    expect(namespaces()).toEqual(Object.values(ns).sort());

    const gc = await cli([...opts, "--json", "gc"]);
    expect(gc.code, show(gc)).toBe(0);
    expect(JSON.parse(gc.stdout)).toEqual(expected(false));
    expect(namespaces()).toEqual([ns.owned, ns.foreign, ns.lookalike, ns.theirs, ns.anything].sort());
    expect(existsSync(alloc.orphan), "our orphaned IP is released").toBe(false);
    for (const file of [alloc.foreign, alloc.containerd, alloc.owned, alloc.theirs])
      expect(existsSync(file), `${file} was released`).toBe(true);
    expect(readFileSync(alloc.containerd, "utf8")).toBe(`${foreignId}\r\neth0`);
    expect(readdirSync(path.join(stateDir, "bundles")).sort()).toEqual(["not-a-sandbox", theirs].sort());
    expect(readdirSync(path.join(stateDir, "sandboxes"))).toEqual([`${owned}.json`]);
    expect(readdirSync(path.join(stateDir, "names")).length).toBe(1);
    expect(linkExists(dummy), `interface ${dummy} was removed`).toBe(true);
    // The kept namespaces are still namespaces (mounted), not just files.
    for (const name of [ns.owned, ns.foreign, ns.lookalike, ns.theirs, ns.anything])
      expect(
        tryRun("ip", ["--netns", path.join(netnsDir, name), "link", "show", "lo"]) ||
          tryRun("nsenter", [`--net=${path.join(netnsDir, name)}`, "true"]),
        name,
      ).toBe(true);

    // A second gc finds nothing more.
    const again = await cli([...opts, "--json", "gc", "--dry-run"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ netns: [], allocations: [], bundles: [], names: [] });
  });

  it("sweepNetns removes only names with its prefix, keeps what is claimed, and refuses an empty prefix", async () => {
    const dir = path.join(work, "sweep");
    const sweepPrefix = `${runPrefix}w-`;
    const names = [`${sweepPrefix}a`, `${sweepPrefix}claimed`, `${runPrefix}wx-b`, `${runPrefix}v-c`];
    for (const name of names) (await createNetns({ dir, name }))._unsafeUnwrap();
    const refused = await sweepNetns({ dir, prefix: "", keep: () => false });
    expect(refused.isErr() && refused.error.code).toBe("invalid-argument");
    const report = (await sweepNetns({ dir, prefix: sweepPrefix, keep: (p) => p.endsWith("claimed") }))._unsafeUnwrap();
    expect(report.removed).toEqual([path.join(dir, `${sweepPrefix}a`)]);
    expect(report.kept).toEqual([path.join(dir, `${sweepPrefix}claimed`)]);
    expect(report.failed).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(names.slice(1).sort());
  });
});
