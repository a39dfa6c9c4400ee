// The pause bundle's config.json: what it joins, what it mounts read-only, what it never sets.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pauseConfig, writeBundle, type BundleSpec } from "../../../examples/sandbox-runner/runc/index.js";
import { runPrefix } from "../../support/run-prefix.js";

const work = mkdtempSync(path.join(os.tmpdir(), `${runPrefix}runc-bundle-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
const spec = (over: Partial<BundleSpec> = {}): BundleSpec => ({
  bundleDir: path.join(work, `b${++n}`),
  rootfs: "/var/lib/sr/rootfs",
  hostname: "pod-a",
  netnsPath: "/run/netns/sr-abc",
  cgroupsPath: "/sr-abc",
  ...over,
});

/** Every key anywhere in a JSON value. */
function keys(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keys);
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [k, ...keys(v)]);
  return [];
}

async function written(s: BundleSpec) {
  const r = await writeBundle(s);
  expect(r._unsafeUnwrap()).toBe(s.bundleDir);
  return JSON.parse(readFileSync(path.join(s.bundleDir, "config.json"), "utf8"));
}

describe("writeBundle", () => {
  it("writes an OCI 1.0.2 pause config joining the netns by path, with a read-only root", async () => {
    const s = spec();
    const c = await written(s);
    expect(c.ociVersion).toBe("1.0.2");
    expect(c.process).toMatchObject({
      args: ["/bin/sleep", "2147483647"],
      terminal: false,
      user: { uid: 0, gid: 0 },
      cwd: "/",
      noNewPrivileges: true,
    });
    expect(c.process.capabilities.bounding).toEqual(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    expect(c.root).toEqual({ path: "/var/lib/sr/rootfs", readonly: true });
    expect(c.hostname).toBe("pod-a");
    expect(c.linux.cgroupsPath).toBe("/sr-abc");
    expect(c.linux.namespaces).toEqual([
      { type: "pid" },
      { type: "ipc" },
      { type: "uts" },
      { type: "mount" },
      { type: "network", path: "/run/netns/sr-abc" },
    ]);
    expect(c.mounts.map((m: { destination: string }) => m.destination)).toEqual([
      "/proc",
      "/dev",
      "/dev/pts",
      "/dev/shm",
      "/dev/mqueue",
      "/sys",
    ]);
    expect(c.mounts.find((m: { destination: string }) => m.destination === "/sys").options).toContain("ro");
    expect(c.linux.maskedPaths).toContain("/proc/kcore");
    expect(c.linux.readonlyPaths).toContain("/proc/sysrq-trigger");
    // Root here lacks CAP_SYS_RESOURCE: any oomScoreAdj risks "can't get final child's PID from pipe".
    expect(keys(c)).not.toContain("oomScoreAdj");
    expect(statSync(s.bundleDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(s.bundleDir)).toEqual(["config.json"]);
  });

  it("has no network namespace entry for host network, so the host's is shared", async () => {
    const c = await written(spec({ netnsPath: undefined }));
    expect(c.linux.namespaces.map((ns: { type: string }) => ns.type)).toEqual(["pid", "ipc", "uts", "mount"]);
  });

  it("takes other args, and an absolute rootfs given with dots", async () => {
    const c = await written(spec({ args: ["/bin/busybox", "sleep", "1"], rootfs: "/var/lib/sr/../sr/rootfs" }));
    expect(c.process.args).toEqual(["/bin/busybox", "sleep", "1"]);
    expect(c.root.path).toBe("/var/lib/sr/rootfs");
  });

  it("overwrites an existing config.json whole", async () => {
    const s = spec();
    await written(s);
    const c = await written({ ...s, hostname: "again" });
    expect(c.hostname).toBe("again");
    expect(readdirSync(s.bundleDir)).toEqual(["config.json"]);
  });

  it.each([
    [{ hostname: "" }, "hostname must not be empty"],
    [{ hostname: "a".repeat(65) }, "longer than 64 characters"],
    [{ hostname: "-pod" }, "is not an RFC 1123 host name"],
    [{ hostname: "pod-" }, "is not an RFC 1123 host name"],
    [{ hostname: "po_d" }, "is not an RFC 1123 host name"],
    [{ hostname: "a..b" }, "is not an RFC 1123 host name"],
    [{ hostname: "pod\0x" }, "is not an RFC 1123 host name"],
    [{ hostname: "a b" }, "is not an RFC 1123 host name"],
    [{ rootfs: "rootfs" }, 'rootfs "rootfs" must be an absolute path'],
    [{ bundleDir: "b" }, 'bundleDir "b" must be an absolute path'],
    [{ netnsPath: "run/netns/x" }, "netnsPath"],
    [{ netnsPath: "/run/netns/x\0" }, "netnsPath must not contain NUL"],
    [{ cgroupsPath: "sr-abc" }, "cgroupsPath"],
    [{ cgroupsPath: "/sr/../../x" }, 'must not contain ".."'],
    [{ cgroupsPath: "/" }, "must not be the cgroup root"],
    [{ args: [] }, "args must be a non-empty array"],
    [{ args: ["sleep", "1"] }, 'args[0] "sleep" must be an absolute path'],
  ] as [Partial<BundleSpec>, string][])("rejects %j naming the field, writing nothing", async (over, message) => {
    const s = spec(over);
    const r = await writeBundle(s);
    expect(r.isErr()).toBe(true);
    const e = r._unsafeUnwrapErr();
    expect(e.operation).toBe("bundle");
    expect(e.message).toMatch(/^failed to write the bundle /);
    expect(e.message).toContain(message);
    if (path.isAbsolute(s.bundleDir)) expect(() => statSync(s.bundleDir)).toThrow();
  });

  it.each([
    "pod-a",
    "POD-A",
    "a",
    "a.b.c",
    "x1-2.example-3.org",
    "a".repeat(63),
    `${"a".repeat(31)}.${"b".repeat(32)}`,
  ])("accepts the host name %s", async (hostname) => {
    expect((await writeBundle(spec({ hostname }))).isOk()).toBe(true);
  });

  it("pauseConfig is what writeBundle writes", async () => {
    const s = spec();
    expect(await written(s)).toEqual(JSON.parse(JSON.stringify(pauseConfig(s))));
  });
});
