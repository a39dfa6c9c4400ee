import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { hostLocalDataDirs, listAllocations, parseAllocation } from "../../../examples/sandbox-runner/cni/index.js";

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "cni-unit-alloc-"));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

test("lists IP files with their container id and ifname, ignoring host-local's bookkeeping", async () => {
  const net = path.join(dataDir, "net1");
  mkdirSync(net);
  // host-local 1.1.1 writes "<id>\r\n<ifname>" (checked on this machine); older ones only "<id>"
  writeFileSync(path.join(net, "10.9.0.2"), "c1\r\neth0");
  writeFileSync(path.join(net, "10.9.0.10"), "c2");
  writeFileSync(path.join(net, "fd00::3"), "c3\neth1\n");
  writeFileSync(path.join(net, "last_reserved_ip.0"), "10.9.0.10");
  writeFileSync(path.join(net, "lock"), "");
  writeFileSync(path.join(net, "junk.tmp"), "x");
  const list = (await listAllocations(dataDir, "net1"))._unsafeUnwrap();
  expect(list).toEqual([
    { ip: "10.9.0.10", containerId: "c2", ifName: undefined, file: path.join(net, "10.9.0.10") },
    { ip: "10.9.0.2", containerId: "c1", ifName: "eth0", file: path.join(net, "10.9.0.2") },
    { ip: "fd00::3", containerId: "c3", ifName: "eth1", file: path.join(net, "fd00::3") },
  ]);
});

test("no directory means no allocations; a bad network name is refused", async () => {
  expect((await listAllocations(dataDir, "none"))._unsafeUnwrap()).toEqual([]);
  expect((await listAllocations(dataDir, "../x"))._unsafeUnwrapErr().field).toBe("name");
});

test("parseAllocation", () => {
  expect(parseAllocation("")).toEqual({ containerId: "", ifName: undefined });
  expect(parseAllocation("abc\r\neth0")).toEqual({ containerId: "abc", ifName: "eth0" });
});

test("hostLocalDataDirs finds where a list's host-local plugins allocate", () => {
  const network = {
    cniVersion: "1.0.0",
    name: "n",
    plugins: [
      { type: "bridge", ipam: { type: "host-local", dataDir: "/tmp/x" } },
      { type: "ptp", ipam: { type: "host-local" } },
      { type: "macvlan", ipam: { type: "dhcp" } },
      { type: "loopback" },
    ],
  };
  expect(hostLocalDataDirs(network)).toEqual(["/tmp/x", "/var/lib/cni/networks"]);
});
