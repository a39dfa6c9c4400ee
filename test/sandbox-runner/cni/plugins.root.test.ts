// CNI ADD/DEL through the real bridge, host-local and loopback plugins in real namespaces.
// Each test removes its namespace; afterAll removes the bridge (the bridge plugin creates it and
// never deletes it) and checks no veth is left on it and no allocation file is left.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, expect, it } from "vitest";
import {
  cniAdd,
  cniDel,
  defaultNetworkConfig,
  listAllocations,
  type CniNetworkList,
} from "../../../examples/sandbox-runner/cni/index.js";
import { spawnRunner } from "errdefer/host";
import { createNetns, createProcessDriver, type Netns } from "../../../src/netns/index.js";
import { removeTestDir, testDir } from "../../support/netns-dirs.js";
import { describeRoot, missingCniPlugins } from "../../support/root.js";
import { runPrefix } from "../../support/run-prefix.js";

const binDir = "/usr/lib/cni";
const cniProblem = missingCniPlugins();

/** describeRoot, also requiring the CNI plugins: with CI=true their absence fails. */
function describeCni(name: string, body: () => void): void {
  const problem =
    cniProblem.length === 0
      ? undefined
      : `the CNI root tests need ${cniProblem.join(", ")} (Debian: containernetworking-plugins)`;
  describeRoot(name, body, problem);
}

const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });

/** The veths enslaved to `bridge` (the host ends of pods' pairs). */
function vethsOn(bridge: string): string[] {
  return ip("-o", "link", "show", "type", "veth")
    .split("\n")
    .filter((line) => line.includes(` master ${bridge} `))
    .map((line) => line.split(": ")[1]!.split("@")[0]!);
}

function bridgeExists(bridge: string): boolean {
  return ip("-o", "link", "show")
    .split("\n")
    .some((line) => line.split(": ")[1]?.split("@")[0] === bridge);
}

describeCni("CNI plugins on this machine (bridge + host-local + loopback)", () => {
  const bridge = `${runPrefix}cb`.slice(0, 15);
  // 10.251.X.0/24, X from the run prefix, so concurrent runs on one host rarely collide.
  const subnetOctet = parseInt(runPrefix.slice(3, 9), 16) % 256;
  const subnetBase = `10.251.${subnetOctet}`;
  const work = testDir("cni");
  const dataDir = path.join(work, "ipam");
  const networkName = `${runPrefix}net`;
  const network = defaultNetworkConfig({ networkName, bridge, subnet: `${subnetBase}.0/24`, dataDir })._unsafeUnwrap();
  const driver = createProcessDriver();
  const namespaces: Netns[] = [];
  let counter = 0;

  async function newNetns(): Promise<Netns> {
    const ns = (await createNetns({ name: `${runPrefix}cni${++counter}`, driver }))._unsafeUnwrap();
    namespaces.push(ns);
    return ns;
  }
  const invocation = (ns: Netns, net: CniNetworkList = network, dir = binDir) => ({
    network: net,
    containerId: `${runPrefix}c${counter}`,
    netnsPath: ns.path,
    ifName: "eth0",
    binDir: dir,
    exec: spawnRunner(),
    timeoutMs: 10_000,
  });
  const allocated = async () => (await listAllocations(dataDir, networkName))._unsafeUnwrap();

  afterEach(async () => {
    for (const ns of namespaces.splice(0)) (await ns.remove())._unsafeUnwrap();
  });
  afterAll(() => {
    if (bridgeExists(bridge)) ip("link", "del", bridge);
    removeTestDir(work);
    expect(vethsOn(bridge)).toEqual([]);
    expect(bridgeExists(bridge)).toBe(false);
  });

  it("ADD puts eth0 with the IP inside the netns and brings lo up; DEL removes the veth and the allocation", async () => {
    const ns = await newNetns();
    const inv = invocation(ns);
    const added = (await cniAdd(inv))._unsafeUnwrap();
    expect(added.ip).toMatch(new RegExp(`^${subnetBase.replaceAll(".", "\\.")}\\.\\d+$`));
    const addrs = (await ns.exec(["ip", "-o", "addr"]))._unsafeUnwrap().stdout;
    expect(addrs).toMatch(new RegExp(`\\d+: eth0 +inet ${added.ip!.replaceAll(".", "\\.")}/24 `));
    expect(addrs).toMatch(/1: lo +inet 127\.0\.0\.1\/8 /);
    const lo = (await ns.exec(["ip", "-o", "link", "show", "lo"]))._unsafeUnwrap().stdout;
    expect(lo).toMatch(/<LOOPBACK,UP,LOWER_UP>/);
    expect(vethsOn(bridge)).toHaveLength(1);
    // host-local records "<id>\r\n<ifname>" in 1.1.1; listAllocations reads both.
    expect(await allocated()).toEqual([
      { ip: added.ip, containerId: inv.containerId, ifName: "eth0", file: path.join(dataDir, networkName, added.ip!) },
    ]);

    expect((await cniDel({ ...inv, prevResult: added.result }))._unsafeUnwrap()).toEqual({ skipped: [] });
    expect(vethsOn(bridge)).toEqual([]);
    expect(await allocated()).toEqual([]);
    expect((await ns.exec(["ip", "-o", "link", "show", "eth0"])).map((r) => r.exitCode)._unsafeUnwrap()).not.toBe(0);
    // DEL again is fine (CNI requires DEL to be idempotent)
    expect((await cniDel({ ...inv, prevResult: added.result })).isOk()).toBe(true);
  });

  it("DEL after the netns is already removed still frees the IP", async () => {
    const ns = await newNetns();
    const inv = invocation(ns);
    const added = (await cniAdd(inv))._unsafeUnwrap();
    expect(await allocated()).toHaveLength(1);
    (await ns.remove())._unsafeUnwrap();
    namespaces.splice(namespaces.indexOf(ns), 1);
    expect((await cniDel({ ...inv, prevResult: added.result })).isOk()).toBe(true);
    expect(await allocated()).toEqual([]);
    expect(vethsOn(bridge)).toEqual([]);
  });

  it("a missing plugin after a working bridge: ADD fails with missing-plugin, DEL frees the veth and IP and skips it", async () => {
    const ns = await newNetns();
    const broken: CniNetworkList = {
      ...network,
      plugins: [network.plugins[0]!, { type: `${runPrefix}nosuch` }, { type: "loopback" }],
    };
    const inv = invocation(ns, broken);
    const error = (await cniAdd(inv))._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: "missing-plugin", plugin: `${runPrefix}nosuch`, command: "ADD" });
    expect(error.message).toBe(
      `failed to set up network for sandbox ${inv.containerId}: plugin ${runPrefix}nosuch: failed to find plugin "${runPrefix}nosuch" in path /usr/lib/cni`,
    );
    // what the bridge set up is still there: this is what containerd#12130 leaks
    expect(vethsOn(bridge)).toHaveLength(1);
    expect(await allocated()).toHaveLength(1);

    expect((await cniDel({ ...inv, prevResult: error.prevResult }))._unsafeUnwrap()).toEqual({
      skipped: [`${runPrefix}nosuch`],
    });
    expect(vethsOn(bridge)).toEqual([]);
    expect(await allocated()).toEqual([]);
  });

  it("a plugin failing its DEL does not stop the bridge's DEL; the failure is reported", async () => {
    const bin = path.join(work, "bin");
    mkdirSync(bin, { recursive: true });
    for (const p of ["bridge", "host-local", "loopback"])
      if (!existsSync(path.join(bin, p))) symlinkSync(path.join(binDir, p), path.join(bin, p));
    // ADD passes prevResult through (our stdin puts it last, so sed can cut it out); DEL fails.
    writeFileSync(
      path.join(bin, "faildel"),
      [
        "#!/bin/sh",
        'if [ "$CNI_COMMAND" = DEL ]; then echo \'{"code":999,"msg":"injected DEL failure","details":"faildel"}\'; exit 1; fi',
        "sed -n 's/.*\"prevResult\":\\(.*\\)}$/\\1/p'",
        "",
      ].join("\n"),
    );
    chmodSync(path.join(bin, "faildel"), 0o755);
    const ns = await newNetns();
    const chain: CniNetworkList = {
      ...network,
      plugins: [network.plugins[0]!, { type: "loopback" }, { type: "faildel" }],
    };
    const inv = invocation(ns, chain, bin);
    const added = (await cniAdd(inv))._unsafeUnwrap();
    expect(added.ip).toBeDefined();
    expect(await allocated()).toHaveLength(1);

    const error = (await cniDel({ ...inv, prevResult: added.result }))._unsafeUnwrapErr();
    expect(error.failures).toHaveLength(1);
    expect(error.failures[0]).toMatchObject({
      plugin: "faildel",
      error: { code: 999, msg: "injected DEL failure", details: "faildel", exitCode: 1, command: "DEL" },
    });
    expect(error.message).toBe(
      `failed to tear down network for sandbox ${inv.containerId}: 1 plugin(s) failed: plugin faildel: injected DEL failure (faildel)`,
    );
    // the bridge's DEL ran anyway
    expect(vethsOn(bridge)).toEqual([]);
    expect(await allocated()).toEqual([]);
  });

  it("measures ADD and DEL (bridge + loopback), medians over 15 cycles", async () => {
    const adds: number[] = [];
    const dels: number[] = [];
    for (let i = 0; i < 15; i++) {
      const ns = await newNetns();
      const inv = invocation(ns);
      let t = performance.now();
      const added = (await cniAdd(inv))._unsafeUnwrap();
      adds.push(performance.now() - t);
      t = performance.now();
      (await cniDel({ ...inv, prevResult: added.result }))._unsafeUnwrap();
      dels.push(performance.now() - t);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1);
    console.info(`CNI bridge+loopback: ADD median ${median(adds)} ms, DEL median ${median(dels)} ms (15 cycles)`);
    expect(await allocated()).toEqual([]);
    expect(vethsOn(bridge)).toEqual([]);
  });

  it("leaves no allocation files behind (only host-local's lock and last_reserved_ip)", () => {
    const dir = path.join(dataDir, networkName);
    expect(readdirSync(dir).filter((n) => n !== "lock" && !n.startsWith("last_reserved_ip."))).toEqual([]);
  });
});
