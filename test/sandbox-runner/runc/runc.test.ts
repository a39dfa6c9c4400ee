// The runc wrapper against a fake CommandRunner: exact argv (always with our --root), error mapping,
// idempotence, and waiting for a process that is not our child.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createRunc, type RuncError } from "../../../examples/sandbox-runner/runc/index.js";
import { liveIdentity } from "../../../examples/sandbox-runner/runc/process-exit.js";
import { fakeRunc, runcError, runFailure, stateJson } from "./fake-runc.js";
import { runPrefix } from "../../support/run-prefix.js";

const root = "/var/lib/sr/runc";
const base = ["runc", "--root", root, "--log-format", "json"];
const work = mkdtempSync(path.join(os.tmpdir(), `${runPrefix}runc-unit-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const bundle = path.join(work, "bundle");
mkdirSync(bundle);

/** A PID no process has (above the kernel's maximum pid_max). */
const NO_PID = 4_194_305;

describe("runc argv", () => {
  it("run: `runc run --detach`, as create (log, no stdio, timeout, dies with the runner)", async () => {
    const { exec, requests } = fakeRunc();
    const r = await createRunc({ root, exec, commandTimeoutMs: 5000 }).run("sb-1", bundle);
    expect(r.isOk()).toBe(true);
    expect(requests).toEqual([
      {
        argv: [...base, "--log", path.join(bundle, "runc-create.log"), "run", "--detach", "--bundle", bundle, "sb-1"],
        detached: true,
        timeoutMs: 5000,
        dieWithParent: true,
      },
    ]);
  });

  it("create: --root, a log in the bundle, no stdio (detached), a timeout, and it dies with the runner", async () => {
    const { exec, requests } = fakeRunc();
    const r = await createRunc({ root, exec, runcPath: "/usr/sbin/runc", commandTimeoutMs: 5000 }).create(
      "sb-1",
      bundle,
    );
    expect(r.isOk()).toBe(true);
    expect(requests).toEqual([
      {
        argv: [
          "/usr/sbin/runc",
          "--root",
          root,
          "--log-format",
          "json",
          "--log",
          path.join(bundle, "runc-create.log"),
          "create",
          "--bundle",
          bundle,
          "sb-1",
        ],
        detached: true,
        timeoutMs: 5000,
        dieWithParent: true,
      },
    ]);
  });

  it.each([
    ["start", (r: ReturnType<typeof createRunc>) => r.start("sb-1"), ["start", "sb-1"]],
    ["state", (r: ReturnType<typeof createRunc>) => r.state("sb-1"), ["state", "sb-1"]],
    ["kill", (r: ReturnType<typeof createRunc>) => r.kill("sb-1"), ["kill", "sb-1", "KILL"]],
    ["kill TERM", (r: ReturnType<typeof createRunc>) => r.kill("sb-1", "TERM"), ["kill", "sb-1", "TERM"]],
    ["delete", (r: ReturnType<typeof createRunc>) => r.delete("sb-1"), ["delete", "sb-1"]],
    ["list", (r: ReturnType<typeof createRunc>) => r.list(), ["list", "--format", "json"]],
  ] as const)("%s", async (_name, call, args) => {
    const { exec, requests } = fakeRunc({
      state: () => stateJson("running", 42),
      list: () => ({ exitCode: 0, stdout: "null", stderr: "" }),
    });
    await call(createRunc({ root, exec }));
    expect(requests.map((q) => q.argv)).toEqual([[...base, ...args]]);
    expect(requests[0]!.detached).toBeUndefined();
    expect(requests[0]!.timeoutMs).toBe(30_000);
    // runc does not outlive a killed runner (its container does: see runc.root.test.ts).
    expect(requests[0]!.dieWithParent).toBe(true);
  });
});

describe("runc results", () => {
  it("state parses runc's JSON; a missing container is undefined", async () => {
    const { exec } = fakeRunc({
      state: (_q, args) =>
        args[1] === "there" ? stateJson("running", 42, "/b/x") : runcError("container does not exist"),
    });
    const runc = createRunc({ root, exec });
    expect((await runc.state("there"))._unsafeUnwrap()).toEqual({ status: "running", pid: 42, bundle: "/b/x" });
    expect((await runc.state("gone"))._unsafeUnwrap()).toBeUndefined();
  });

  it("state reports garbage and other failures as errors", async () => {
    const answers = [
      { exitCode: 0, stdout: "not json", stderr: "" },
      stateJson("exploded", 1),
      runcError("open /x/state.json: permission denied"),
      runFailure("timeout", "runc timed out after 30000 ms"),
    ];
    const { exec } = fakeRunc({ state: () => answers.shift()! });
    const runc = createRunc({ root, exec });
    expect((await runc.state("a"))._unsafeUnwrapErr().message).toBe(
      "failed to get the state of container a: runc state printed no JSON",
    );
    expect((await runc.state("a"))._unsafeUnwrapErr().message).toBe(
      'failed to get the state of container a: runc state printed an unknown status "exploded"',
    );
    const e = (await runc.state("a"))._unsafeUnwrapErr();
    expect(e).toMatchObject({
      operation: "state",
      id: "a",
      exitCode: 1,
      message: "failed to get the state of container a: open /x/state.json: permission denied",
    });
    expect(e.stderr).toContain('"level":"error"');
    expect((await runc.state("a"))._unsafeUnwrapErr()).toMatchObject({
      exitCode: undefined,
      message: "failed to get the state of container a: runc timed out after 30000 ms",
    });
  });

  it("create reports the error runc logged, without runc's preamble, and an earlier attempt's is gone", async () => {
    const log = path.join(bundle, "runc-create.log");
    writeFileSync(log, `${JSON.stringify({ level: "error", msg: "runc create failed: stale" })}\n`);
    const { exec } = fakeRunc({
      create: () => {
        expect(readFileSync(log, "utf8")).toBe("");
        writeFileSync(
          log,
          `${JSON.stringify({ level: "warning", msg: "hm" })}\n${JSON.stringify({ level: "error", msg: "runc create failed: unable to create new parent process: namespace path: lstat /run/netns/nope: no such file or directory" })}\n`,
        );
        return { exitCode: 1, stdout: "", stderr: "" };
      },
    });
    const e = (await createRunc({ root, exec }).create("sb-1", bundle))._unsafeUnwrapErr();
    expect(e).toMatchObject({ name: "RuncError", operation: "create", id: "sb-1", exitCode: 1 });
    expect(e.message).toBe(
      "failed to create container sb-1: unable to create new parent process: namespace path: lstat /run/netns/nope: no such file or directory",
    );
    expect(e.stderr).toContain("namespace path");
  });

  it("create says when the bundle dir is missing, without running runc", async () => {
    const { exec, requests } = fakeRunc();
    const e = (await createRunc({ root, exec }).create("sb-1", path.join(work, "nope")))._unsafeUnwrapErr();
    expect(e.message).toBe(`failed to create container sb-1: the bundle dir ${path.join(work, "nope")} does not exist`);
    expect(requests).toEqual([]);
  });

  it("create names runc missing from PATH", async () => {
    const { exec } = fakeRunc({
      create: () => runFailure("spawn", "Command failed with ENOENT: runc create\nspawn runc ENOENT"),
    });
    const e = (await createRunc({ root, exec }).create("sb-1", bundle))._unsafeUnwrapErr();
    expect(e.message).toMatch(
      /^failed to create container sb-1: Command failed with ENOENT.*\(is runc installed\? Debian: apt-get install runc\)$/s,
    );
    expect(e.exitCode).toBeUndefined();
  });

  it("start maps runc's stderr", async () => {
    const { exec } = fakeRunc({ start: () => runcError("cannot start a container that has stopped") });
    const e = (await createRunc({ root, exec }).start("sb-1"))._unsafeUnwrapErr();
    expect(e.message).toBe("failed to start container sb-1: cannot start a container that has stopped");
  });

  it("plain-text stderr and silent failures still make a message", async () => {
    const answers = [
      { exitCode: 2, stdout: "", stderr: "panic: oops\ngoroutine 1\n" },
      { exitCode: 3, stdout: "", stderr: "" },
    ];
    const { exec } = fakeRunc({ start: () => answers.shift()! });
    const runc = createRunc({ root, exec });
    expect((await runc.start("a"))._unsafeUnwrapErr().message).toBe("failed to start container a: goroutine 1");
    expect((await runc.start("a"))._unsafeUnwrapErr().message).toBe(
      "failed to start container a: runc exited with code 3",
    );
  });

  it("delete is idempotent: does not exist is success, twice", async () => {
    const { exec, requests } = fakeRunc({ delete: () => runcError("container does not exist") });
    const runc = createRunc({ root, exec });
    expect((await runc.delete("sb-1")).isOk()).toBe(true);
    expect((await runc.delete("sb-1")).isOk()).toBe(true);
    expect(requests).toHaveLength(2);
  });

  it("delete of a running container is an error", async () => {
    const { exec } = fakeRunc({ delete: () => runcError("cannot delete container sb-1 that is not stopped: running") });
    const e = (await createRunc({ root, exec }).delete("sb-1"))._unsafeUnwrapErr();
    expect(e.message).toBe(
      "failed to delete container sb-1: cannot delete container sb-1 that is not stopped: running",
    );
  });

  it("a delete killed before it exited (a timeout) is an error even if stderr says does not exist", async () => {
    const { exec } = fakeRunc({
      delete: () => ({ ...runcError("container does not exist"), exitCode: undefined, signal: "SIGTERM" }),
    });
    expect((await createRunc({ root, exec }).delete("sb-1")).isErr()).toBe(true);
  });

  it("kill: true when delivered, false when not running or missing, an error otherwise", async () => {
    const answers = [
      { exitCode: 0, stdout: "", stderr: "" },
      runcError("container not running"),
      runcError("container does not exist"),
      runcError("permission denied"),
    ];
    const { exec } = fakeRunc({ kill: () => answers.shift()! });
    const runc = createRunc({ root, exec });
    expect((await runc.kill("a"))._unsafeUnwrap()).toBe(true);
    expect((await runc.kill("a"))._unsafeUnwrap()).toBe(false);
    expect((await runc.kill("a"))._unsafeUnwrap()).toBe(false);
    expect((await runc.kill("a"))._unsafeUnwrapErr().message).toBe("failed to kill container a: permission denied");
  });

  it("list: ids, and [] for runc's null", async () => {
    const answers = [
      {
        exitCode: 0,
        stdout: JSON.stringify([
          { id: "a", pid: 1, status: "running" },
          { id: "b", pid: 0, status: "stopped" },
        ]),
        stderr: "",
      },
      { exitCode: 0, stdout: "null\n", stderr: "" },
      { exitCode: 0, stdout: "{}", stderr: "" },
    ];
    const { exec } = fakeRunc({ list: () => answers.shift()! });
    const runc = createRunc({ root, exec });
    expect((await runc.list())._unsafeUnwrap()).toEqual(["a", "b"]);
    expect((await runc.list())._unsafeUnwrap()).toEqual([]);
    expect((await runc.list())._unsafeUnwrapErr().message).toBe(
      `failed to list the containers in ${root}: runc list printed no JSON array`,
    );
  });
});

describe("container ids", () => {
  it.each(["", "-x", ".x", "a/b", "../x", "a b", "x\0", "a".repeat(129), "é"])(
    "rejects %j before running runc",
    async (id) => {
      const { exec, requests } = fakeRunc();
      const runc = createRunc({ root, exec });
      const errors: RuncError[] = [];
      for (const r of [
        await runc.create(id, bundle),
        await runc.start(id),
        await runc.state(id),
        await runc.kill(id),
        await runc.delete(id),
      ])
        errors.push(r._unsafeUnwrapErr());
      expect(errors.map((e) => e.operation)).toEqual(["create", "start", "state", "kill", "delete"]);
      for (const e of errors)
        expect(e.message).toContain("invalid container id: it must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$");
      expect(errors[0]!.message).toMatch(/^failed to create container "/);
      expect(requests).toEqual([]);
    },
  );

  it.each(["a", "A9", "sb_1.x-y", "a".repeat(128)])("accepts %s", async (id) => {
    const { exec } = fakeRunc();
    expect((await createRunc({ root, exec }).start(id)).isOk()).toBe(true);
  });

  it("rejects a signal that could pass for a flag", async () => {
    const { exec, requests } = fakeRunc();
    const e = (await createRunc({ root, exec }).kill("a", "--all"))._unsafeUnwrapErr();
    expect(e.message).toContain('invalid signal "--all"');
    expect(requests).toEqual([]);
  });
});

describe("stop and waitStopped", () => {
  /** A real process that is not the container but stands in for its pause process. */
  const pause = () => spawn("sleep", ["30"], { stdio: "ignore" });

  it("stop: state, kill KILL, then waits for the process (no runc delete --force, no state polling)", async () => {
    const child = pause();
    const pid = child.pid!;
    const { exec, requests } = fakeRunc({
      state: () => stateJson("running", pid),
      kill: () => {
        // Killed a little later, as runc's signal would be delivered.
        setTimeout(() => child.kill("SIGKILL"), 20);
        return { exitCode: 0, stdout: "", stderr: "" };
      },
    });
    expect((await createRunc({ root, exec }).stop("sb-1")).isOk()).toBe(true);
    // It returned once the process had exited (reaped here, or a zombie), not before.
    expect(await liveIdentity(pid)).toBeUndefined();
    expect(requests.map((q) => q.argv.slice(base.length))).toEqual([
      ["state", "sb-1"],
      ["kill", "sb-1", "KILL"],
    ]);
  });

  it("stop of a stopped or missing container only asks runc state", async () => {
    const answers = [stateJson("stopped", 0), runcError("container does not exist")];
    const { exec, requests } = fakeRunc({ state: () => answers.shift()! });
    const runc = createRunc({ root, exec });
    expect((await runc.stop("a")).isOk()).toBe(true);
    expect((await runc.stop("a")).isOk()).toBe(true);
    expect(requests.map((q) => q.argv.slice(base.length)[0])).toEqual(["state", "state"]);
  });

  it("stop of a container whose process already exited is success", async () => {
    const { exec } = fakeRunc({
      state: () => stateJson("running", NO_PID),
      kill: () => runcError("container not running"),
    });
    expect((await createRunc({ root, exec }).stop("a")).isOk()).toBe(true);
  });

  it("stop resumes a paused container so that the kill lands", async () => {
    const { exec, requests } = fakeRunc({ state: () => stateJson("paused", NO_PID) });
    expect((await createRunc({ root, exec }).stop("a")).isOk()).toBe(true);
    expect(requests.map((q) => q.argv.slice(base.length))).toEqual([
      ["state", "a"],
      ["kill", "a", "KILL"],
      ["resume", "a"],
    ]);
  });

  it("stop fails with the kill's error", async () => {
    const { exec } = fakeRunc({
      state: () => stateJson("running", NO_PID),
      kill: () => runcError("operation not permitted"),
    });
    expect((await createRunc({ root, exec }).stop("a"))._unsafeUnwrapErr().message).toBe(
      "failed to kill container a: operation not permitted",
    );
  });

  it("waitStopped times out on a live process, naming it", async () => {
    const child = pause();
    try {
      const { exec, requests } = fakeRunc({ state: () => stateJson("running", child.pid!) });
      const e = (await createRunc({ root, exec }).waitStopped("sb-1", { timeoutMs: 50 }))._unsafeUnwrapErr();
      expect(e).toMatchObject({ operation: "wait", id: "sb-1" });
      expect(e.message).toBe(
        `failed to wait for container sb-1 to stop: process ${child.pid} still running after 50 ms`,
      );
      expect(requests.map((q) => q.argv.slice(base.length))).toEqual([["state", "sb-1"]]); // no signal sent
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("waitStopped gives up when aborted", async () => {
    const child = pause();
    try {
      const { exec } = fakeRunc({ state: () => stateJson("running", child.pid!) });
      const e = (
        await createRunc({ root, exec }).waitStopped("sb-1", { timeoutMs: 10_000, signal: AbortSignal.timeout(30) })
      )._unsafeUnwrapErr();
      expect(e.message).toBe(
        `failed to wait for container sb-1 to stop: aborted while process ${child.pid} was still running`,
      );
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("waitStopped returns as soon as the process is a zombie (nobody reaps it)", async () => {
    // sh starts a background sleep and becomes `sleep 60`, which never reaps: once killed, the
    // background sleep stays a zombie, as the pause process does while PID 1 is slow to reap.
    const parent = spawn("sh", ["-c", "sleep 30 & echo $!; exec sleep 60"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const pid = Number(
        await new Promise<string>((resolve) => parent.stdout.once("data", (d: Buffer) => resolve(d.toString()))),
      );
      const { exec } = fakeRunc({ state: () => stateJson("running", pid) });
      const waiting = createRunc({ root, exec }).waitStopped("sb-1", { timeoutMs: 5000 });
      process.kill(pid, "SIGKILL");
      expect((await waiting).isOk()).toBe(true);
      expect(readFileSync(`/proc/${pid}/stat`, "utf8")).toMatch(/\) Z /);
    } finally {
      parent.kill("SIGKILL");
    }
  });

  describe("with runc's state file (no runc state call)", () => {
    /** A runc root whose state file for `id` names `pid` with its real start time. */
    function rootWith(id: string, pid: number): string {
      const dir = mkdtempSync(path.join(work, "root-"));
      mkdirSync(path.join(dir, id));
      const startTime = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19];
      writeFileSync(
        path.join(dir, id, "state.json"),
        JSON.stringify({ id, init_process_pid: pid, init_process_start: Number(startTime), created: "x" }),
      );
      return dir;
    }

    it("stop kills and polls: one runc call", async () => {
      const child = pause();
      const { exec, requests } = fakeRunc({
        kill: () => (child.kill("SIGKILL"), { exitCode: 0, stdout: "", stderr: "" }),
      });
      const r = createRunc({ root: rootWith("sb-1", child.pid!), exec });
      expect((await r.stop("sb-1")).isOk()).toBe(true);
      expect(requests.map((q) => q.argv.slice(3))).toEqual([["--log-format", "json", "kill", "sb-1", "KILL"]]);
    });

    it("stop of a container whose process is gone calls no runc at all", async () => {
      const child = pause();
      const root2 = rootWith("sb-1", child.pid!);
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
      const { exec, requests } = fakeRunc();
      expect((await createRunc({ root: root2, exec }).stop("sb-1")).isOk()).toBe(true);
      expect(requests).toEqual([]);
    });

    it("a PID reused by another process is not mistaken for the container", async () => {
      const child = pause();
      try {
        const root2 = rootWith("sb-1", child.pid!);
        const file = path.join(root2, "sb-1", "state.json");
        const s = JSON.parse(readFileSync(file, "utf8"));
        writeFileSync(file, JSON.stringify({ ...s, init_process_start: s.init_process_start - 1 }));
        const { exec, requests } = fakeRunc();
        expect((await createRunc({ root: root2, exec }).waitStopped("sb-1", { timeoutMs: 1000 })).isOk()).toBe(true);
        expect(requests).toEqual([]);
      } finally {
        child.kill("SIGKILL");
      }
    });

    it("stop resumes a container that turns out to be paused, then the kill lands", async () => {
      const child = pause();
      const { exec, requests } = fakeRunc({
        state: () => stateJson("paused", child.pid!),
        resume: () => (child.kill("SIGKILL"), { exitCode: 0, stdout: "", stderr: "" }),
      });
      expect(
        (await createRunc({ root: rootWith("sb-1", child.pid!), exec }).stop("sb-1", { timeoutMs: 5000 })).isOk(),
      ).toBe(true);
      expect(requests.map((q) => q.argv.slice(5))).toEqual([
        ["kill", "sb-1", "KILL"],
        ["state", "sb-1"],
        ["resume", "sb-1"],
      ]);
    });

    it("stop times out when the process never dies", async () => {
      const child = pause();
      try {
        const { exec } = fakeRunc({ state: () => stateJson("running", child.pid!) });
        const e = (
          await createRunc({ root: rootWith("sb-1", child.pid!), exec }).stop("sb-1", { timeoutMs: 120 })
        )._unsafeUnwrapErr();
        expect(e.message).toBe(
          `failed to wait for container sb-1 to stop: process ${child.pid} still running after 120 ms`,
        );
      } finally {
        child.kill("SIGKILL");
      }
    });
  });
});
