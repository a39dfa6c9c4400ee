import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createNetns, createProcessDriver, loadNetns, createBatchDriver } from "../../src/netns/index.js";
import { FakeRunner } from "../support/fake-runner.js";

describe("createNetns and Netns with a fake runner", () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "errdefer-unit-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("runs `ip netns add NAME` and `ip netns del NAME` in the default dir", async () => {
    const runner = new FakeRunner();
    const driver = createProcessDriver({ runner });
    const ns = (await createNetns({ name: "pod-1", driver }))._unsafeUnwrap();
    expect(ns).toMatchObject({ name: "pod-1", dir: "/var/run/netns", path: "/var/run/netns/pod-1" });
    (await ns.remove())._unsafeUnwrap();
    expect(runner.calls).toEqual([
      ["ip", "netns", "add", "pod-1"],
      ["ip", "netns", "del", "pod-1"],
    ]);
  });

  it("says root (CAP_SYS_ADMIN) is needed when ip is refused", async () => {
    const stderr = "mkdir /run/netns failed: Permission denied";
    const driver = createProcessDriver({ runner: new FakeRunner(() => ({ exitCode: 1, stderr })) });
    const error = (await createNetns({ name: "pod-1", driver }))._unsafeUnwrapErr();
    expect(error.message).toBe(`failed to create network namespace pod-1: root (CAP_SYS_ADMIN) is needed: ${stderr}`);
    expect(error).toMatchObject({
      code: "permission",
      operation: "create",
      exitCode: 1,
      stderr,
      path: "/var/run/netns/pod-1",
    });
  });

  it("maps an existing file to `exists`", async () => {
    const stderr = 'Cannot create namespace file "/run/netns/pod-1": File exists';
    const driver = createProcessDriver({ runner: new FakeRunner(() => ({ exitCode: 1, stderr })) });
    expect((await createNetns({ name: "pod-1", driver }))._unsafeUnwrapErr().code).toBe("exists");
  });

  it("treats a missing namespace as removed, and retries EBUSY", async () => {
    let busy = 2;
    const runner = new FakeRunner((argv) =>
      argv[3] === "gone"
        ? { exitCode: 1, stderr: 'Cannot remove namespace file "/run/netns/gone": No such file or directory' }
        : busy-- > 0
          ? { exitCode: 1, stderr: 'Cannot remove namespace file "/run/netns/b": Device or resource busy' }
          : {},
    );
    const driver = createProcessDriver({ runner });
    (await loadNetns("/var/run/netns/gone", { driver })._unsafeUnwrap().remove())._unsafeUnwrap();
    (await loadNetns("/var/run/netns/b", { driver })._unsafeUnwrap().remove())._unsafeUnwrap();
    expect(runner.calls.filter((c) => c[3] === "b")).toHaveLength(3);
  });

  it("removes what a lost `netns add` may have made before returning driver-lost", async () => {
    const runner = new FakeRunner();
    runner.hold = true;
    const driver = createBatchDriver({ runner });
    const created = createNetns({ driver });
    await new Promise((r) => setImmediate(r));
    runner.hold = false;
    runner.batches[0]!.crash();
    const error = (await created)._unsafeUnwrapErr();
    expect(error.code).toBe("driver-lost");
    expect(error.message).toMatch(
      /^failed to create network namespace cni-.*: the ip -batch process was killed by SIGKILL with the operation in flight$/,
    );
    expect(runner.batches[1]!.lines).toEqual([`netns del ${error.netnsName}`, "errdefer-sentinel"]);
  });

  it("does not run a command when the signal is already aborted", async () => {
    const runner = new FakeRunner();
    const error = (
      await createNetns({ signal: AbortSignal.abort(), driver: createProcessDriver({ runner }) })
    )._unsafeUnwrapErr();
    expect(error.code).toBe("aborted");
    expect(runner.calls).toEqual([]);
  });

  it("in a custom dir: makes the dir a shared mount, creates the file exclusively, then unshare --net=<the file through the dir's fd>", async () => {
    const dir = path.join(tmp, "custom");
    const runner = new FakeRunner();
    const driver = createProcessDriver({ runner });
    const ns = (await createNetns({ dir, name: "pod-2", driver }))._unsafeUnwrap();
    expect(runner.calls).toEqual([
      ["mount", "--bind", dir, dir],
      ["mount", "--make-shared", dir],
      // Through the dir's descriptor: the file lands in the dir that was checked, whatever its path becomes.
      ["unshare", expect.stringMatching(new RegExp(`^--net=/proc/${process.pid}/fd/\\d+/pod-2$`)), "--", "true"],
    ]);
    expect(existsSync(ns.path)).toBe(true);
    // A second create of the same name is refused by the exclusive create, before any command.
    expect((await createNetns({ dir, name: "pod-2", driver }))._unsafeUnwrapErr()).toMatchObject({ code: "exists" });
    expect(runner.calls.filter((c) => c[0] === "unshare")).toHaveLength(1);
    // The fake unshare mounted nothing: remove sees a plain file, so it only unlinks.
    (await ns.remove())._unsafeUnwrap();
    expect(existsSync(ns.path)).toBe(false);
    expect(runner.calls.filter((c) => c[0] === "umount")).toEqual([]);
  });

  it("in a custom dir whose parent is swapped for a symlink after the check: nothing is made elsewhere", async () => {
    const parent = path.join(tmp, "swapped");
    const dir = path.join(parent, "ns");
    const elsewhere = path.join(tmp, "elsewhere");
    mkdirSync(path.join(elsewhere, "ns"), { recursive: true });
    // The swap lands between the realpath check and the creation (during the propagation setup).
    const runner = new FakeRunner((argv) => {
      if (argv[0] === "mount" && argv[1] === "--make-shared") {
        renameSync(parent, `${parent}.old`);
        symlinkSync(elsewhere, parent);
      }
      return {};
    });
    const made = await createNetns({ dir, name: "pod-9", driver: createProcessDriver({ runner }) });
    expect(readdirSync(path.join(elsewhere, "ns"))).toEqual([]);
    expect(made._unsafeUnwrapErr().message).toContain(`must not go through a symlink (it resolves to ${elsewhere}/ns)`);
    expect(runner.calls.filter((c) => c[0] === "unshare")).toEqual([]);
  });

  it("in a custom dir: removes the file when unshare fails, and says root is needed", async () => {
    const dir = path.join(tmp, "custom2");
    const stderr = "unshare: unshare failed: Operation not permitted";
    const runner = new FakeRunner((argv) => (argv[0] === "unshare" ? { exitCode: 1, stderr } : {}));
    const error = (
      await createNetns({ dir, name: "pod-3", driver: createProcessDriver({ runner }) })
    )._unsafeUnwrapErr();
    expect(error.message).toBe(`failed to create network namespace pod-3: root (CAP_SYS_ADMIN) is needed: ${stderr}`);
    expect(existsSync(path.join(dir, "pod-3"))).toBe(false);
  });

  it("exec uses nsenter --net=PATH -- argv outside /var/run/netns", async () => {
    const runner = new FakeRunner(() => ({ exitCode: 3, stdout: "out", stderr: "err" }));
    // /proc/self/ns/net is an nsfs file, so the namespace counts as open.
    const ns = loadNetns("/proc/self/ns/net", { driver: createProcessDriver({ runner }) })._unsafeUnwrap();
    const result = (await ns.exec(["ip", "-o", "link"]))._unsafeUnwrap();
    expect(result).toEqual({ exitCode: 3, signal: undefined, stdout: "out", stderr: "err" });
    expect(runner.calls).toEqual([["nsenter", "--net=/proc/self/ns/net", "--", "ip", "-o", "link"]]);
    expect((await ns.exec([]))._unsafeUnwrapErr().code).toBe("invalid-argument");
  });

  it("exec on a closed namespace is an err, and isClosed only looks", async () => {
    const runner = new FakeRunner();
    const ns = loadNetns(path.join(tmp, "never"), { driver: createProcessDriver({ runner }) })._unsafeUnwrap();
    expect((await ns.isClosed())._unsafeUnwrap()).toBe(true);
    expect((await ns.exec(["true"]))._unsafeUnwrapErr()).toMatchObject({
      code: "closed",
      message: `failed to exec in network namespace never: ${tmp}/never is missing`,
    });
    expect(runner.calls).toEqual([]);
  });
});
