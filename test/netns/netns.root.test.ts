// Against the real kernel: create, exec, remove in both dirs with both drivers, and the edge cases.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import {
  createBatchDriver,
  createNetns,
  createProcessDriver,
  execaRunner,
  listNetns,
  loadNetns,
  sweepNetns,
  type CommandRunner,
  type NetnsDriver,
} from "../../src/netns/index.js";
import { removeTestDir, testDir } from "../support/netns-dirs.js";
import { describeRoot } from "../support/root.js";
import { runPrefix } from "../support/run-prefix.js";

const mountsOf = (file = "/proc/self/mountinfo") => readFileSync(file, "utf8");

describeRoot("netns on the real kernel", () => {
  const batch = createBatchDriver();
  const drivers: [string, NetnsDriver][] = [
    ["batch", batch],
    ["process", createProcessDriver()],
  ];
  const custom = testDir("custom");
  afterAll(async () => {
    await batch.close();
    removeTestDir(custom);
  });

  for (const [kind, driver] of drivers) {
    for (const [where, dir] of [
      ["the default dir", undefined],
      ["a custom dir", custom],
    ] as const) {
      it(`${kind} driver, ${where}: creates, execs ip link inside, removes, removes again`, async () => {
        const name = `${runPrefix}${kind}-${dir === undefined ? "d" : "c"}`;
        const ns = (await createNetns({ name, driver, ...(dir === undefined ? {} : { dir }) }))._unsafeUnwrap();
        expect(ns.path).toBe(path.join(dir ?? "/var/run/netns", name));
        expect(mountsOf()).toContain(`/${name} `);
        expect((await ns.isClosed())._unsafeUnwrap()).toBe(false);
        const link = (await ns.exec(["ip", "-o", "link", "show"]))._unsafeUnwrap();
        expect(link.exitCode).toBe(0);
        // A fresh namespace has only its loopback, down.
        expect(link.stdout.trim().split("\n")).toHaveLength(1);
        expect(link.stdout).toMatch(/^1: lo: <LOOPBACK>/);
        const failing = (await ns.exec(["sh", "-c", "echo no >&2; exit 7"]))._unsafeUnwrap();
        expect(failing).toMatchObject({ exitCode: 7, stderr: "no\n" });
        (await ns.remove())._unsafeUnwrap();
        expect((await ns.isClosed())._unsafeUnwrap()).toBe(true);
        expect(existsSync(ns.path)).toBe(false);
        expect(mountsOf()).not.toContain(`/${name} `);
        (await ns.remove())._unsafeUnwrap();
        expect((await ns.exec(["true"]))._unsafeUnwrapErr().code).toBe("closed");
      });

      it(`${kind} driver, ${where}: refuses to create over an existing name`, async () => {
        const name = `${runPrefix}${kind}-dup-${dir === undefined ? "d" : "c"}`;
        const opts = { name, driver, ...(dir === undefined ? {} : { dir }) };
        const ns = (await createNetns(opts))._unsafeUnwrap();
        const error = (await createNetns(opts))._unsafeUnwrapErr();
        expect(error.code).toBe("exists");
        expect(error.message).toMatch(new RegExp(`^failed to create network namespace ${name}: `));
        expect((await ns.isClosed())._unsafeUnwrap()).toBe(false);
        (await ns.remove())._unsafeUnwrap();
      });

      it(`${kind} driver, ${where}: removes a half-made namespace (a file without a mount)`, async () => {
        const d = dir ?? "/var/run/netns";
        mkdirSync(d, { recursive: true });
        const file = path.join(d, `${runPrefix}${kind}-half`);
        closeSync(openSync(file, "wx", 0));
        const ns = loadNetns(file, { driver })._unsafeUnwrap();
        expect((await ns.isClosed())._unsafeUnwrap()).toBe(true);
        expect(existsSync(file)).toBe(true); // isClosed changed nothing
        (await ns.remove())._unsafeUnwrap();
        expect(existsSync(file)).toBe(false);
      });
    }
  }

  it("isClosed is true after an external `ip netns del`, and remove is then a no-op", async () => {
    const ns = (await createNetns({ name: `${runPrefix}external` }))._unsafeUnwrap();
    execFileSync("ip", ["netns", "del", ns.name]);
    expect((await ns.isClosed())._unsafeUnwrap()).toBe(true);
    (await ns.remove())._unsafeUnwrap();
  });

  it("isClosed is true after an external umount in a custom dir, and leaves the file alone", async () => {
    const ns = (await createNetns({ dir: custom, name: `${runPrefix}umounted` }))._unsafeUnwrap();
    execFileSync("umount", [ns.path]);
    expect((await ns.isClosed())._unsafeUnwrap()).toBe(true);
    expect(existsSync(ns.path)).toBe(true);
    (await ns.remove())._unsafeUnwrap();
    expect(existsSync(ns.path)).toBe(false);
  });

  it("removes with `await using`", async () => {
    let p = "";
    {
      await using ns = (await createNetns({ name: `${runPrefix}using` }))._unsafeUnwrap();
      p = ns.path;
      expect(existsSync(p)).toBe(true);
    }
    expect(existsSync(p)).toBe(false);
  });

  it("makes a custom dir a shared mount, so a namespace removed here is not pinned in another mount namespace", async () => {
    const ns = (await createNetns({ dir: custom, name: `${runPrefix}pinned` }))._unsafeUnwrap();
    expect(
      mountsOf()
        .split("\n")
        .find((l) => l.split(" ")[4] === custom),
    ).toMatch(/ shared:\d+/);
    // A process in its own mount namespace whose copy of the mounts stays a peer of ours.
    const other = spawn("unshare", ["--mount", "--propagation", "unchanged", "--", "sleep", "30"], { stdio: "ignore" });
    try {
      const otherMounts = `/proc/${other.pid}/mountinfo`;
      for (let i = 0; i < 100 && !mountsOf(otherMounts).includes(ns.path); i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(mountsOf(otherMounts)).toContain(ns.path);
      (await ns.remove())._unsafeUnwrap();
      expect(mountsOf(otherMounts)).not.toContain(ns.path);
    } finally {
      other.kill("SIGKILL");
    }
  });

  it("says root (CAP_SYS_ADMIN) is needed when the commands run unprivileged", async () => {
    const real = execaRunner();
    const nobody: CommandRunner = {
      run: (argv, options) =>
        real.run(
          ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--", ...argv],
          options,
        ),
      start: (argv) => real.start(argv),
    };
    const driver = createProcessDriver({ runner: nobody });
    const name = `${runPrefix}nobody`;
    const inDefault = (await createNetns({ name, driver }))._unsafeUnwrapErr();
    expect(inDefault.code).toBe("permission");
    expect(inDefault.message).toContain(`failed to create network namespace ${name}: root (CAP_SYS_ADMIN) is needed`);
    const dir = testDir("nobody");
    // the dir is made shared first, as root, so that only unshare runs unprivileged (the warm
    // namespace is kept meanwhile: removing a dir's last one unbinds the dir)
    const warm = (await createNetns({ dir, name: `${runPrefix}warm` }))._unsafeUnwrap();
    const inCustom = (await createNetns({ dir, name, driver }))._unsafeUnwrapErr();
    expect(inCustom.message).toContain("root (CAP_SYS_ADMIN) is needed");
    expect(existsSync(path.join(dir, name))).toBe(false); // the half-made file was removed
    (await warm.remove())._unsafeUnwrap();
    removeTestDir(dir);
  });

  it("sweeps only unkept prefixed orphans, and never touches other namespaces", async () => {
    const sweepPrefix = `${runPrefix}sw-`;
    const foreign = (await createNetns({ name: `${runPrefix}other-survivor` }))._unsafeUnwrap();
    try {
      const made = await Promise.all(
        ["a", "b", "keep"].map(async (n) => (await createNetns({ name: `${sweepPrefix}${n}` }))._unsafeUnwrap()),
      );
      const half = `/var/run/netns/${sweepPrefix}half`;
      closeSync(openSync(half, "wx", 0));
      const listed = (await listNetns({ prefix: sweepPrefix }))._unsafeUnwrap().map((n) => n.name);
      expect(listed).toEqual([`${sweepPrefix}a`, `${sweepPrefix}b`, `${sweepPrefix}half`, `${sweepPrefix}keep`]);
      const keepPath = made[2]!.path;
      const report = (await sweepNetns({ prefix: sweepPrefix, keep: (p) => p === keepPath }))._unsafeUnwrap();
      expect(report.removed).toEqual([made[0]!.path, made[1]!.path, half]);
      expect(report.kept).toEqual([keepPath]);
      expect(report.failed).toEqual([]);
      expect((await made[2]!.isClosed())._unsafeUnwrap()).toBe(false);
      expect((await foreign.isClosed())._unsafeUnwrap()).toBe(false);
      expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).toContain(foreign.name);
      (await made[2]!.remove())._unsafeUnwrap();
      // a keep that throws keeps the namespace and reports it
      const again = (await createNetns({ name: `${sweepPrefix}c` }))._unsafeUnwrap();
      const thrown = (
        await sweepNetns({
          prefix: sweepPrefix,
          keep: () => {
            throw new Error("store down");
          },
        })
      )._unsafeUnwrap();
      expect(thrown.failed.map((f) => f.error.message)).toEqual([
        expect.stringContaining("threw, so it was kept: store down"),
      ]);
      (await again.remove())._unsafeUnwrap();
    } finally {
      (await foreign.remove())._unsafeUnwrap();
    }
  });

  it("sweeps a custom dir", async () => {
    const dir = testDir("sweep");
    await Promise.all(
      [1, 2, 3].map(async (i) => (await createNetns({ dir, name: `${runPrefix}s${i}` }))._unsafeUnwrap()),
    );
    const report = (await sweepNetns({ dir, prefix: runPrefix, keep: () => false }))._unsafeUnwrap();
    expect(report.removed).toHaveLength(3);
    expect((await listNetns({ dir }))._unsafeUnwrap()).toEqual([]);
    removeTestDir(dir);
  });
});
