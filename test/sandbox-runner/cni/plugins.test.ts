import { mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import {
  cniAdd,
  cniDel,
  CniDelError,
  CniError,
  sandboxIp,
  type CniNetworkList,
} from "../../../examples/sandbox-runner/cni/index.js";
import { failJson, fakeExec, okJson, runFailure, tempBinDir } from "./fake-exec.js";

const bin = tempBinDir(["bridge", "loopback", "host-local", "portmap"]);
afterAll(() => bin.remove());

const network: CniNetworkList = {
  cniVersion: "1.0.0",
  name: "testnet",
  plugins: [
    { type: "bridge", bridge: "cni9", ipam: { type: "host-local", ranges: [[{ subnet: "10.9.0.0/24" }]] } },
    { type: "loopback" },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};

const bridgeResult = {
  cniVersion: "1.0.0",
  interfaces: [
    { name: "cni9", mac: "aa:aa:aa:aa:aa:aa" },
    { name: "veth1234", mac: "bb:bb:bb:bb:bb:bb" },
    { name: "eth0", mac: "cc:cc:cc:cc:cc:cc", sandbox: "/run/netns/x" },
  ],
  ips: [{ interface: 2, address: "10.9.0.7/24", gateway: "10.9.0.1" }],
};

const base = () => ({ network, containerId: "c1", netnsPath: "/run/netns/x", ifName: "eth0", binDir: bin.dir });

describe("cniAdd", () => {
  test("runs each plugin in order with the exact env and stdin, chaining prevResult; each dies with the runner", async () => {
    const { exec, calls } = fakeExec({ "bridge:ADD": () => okJson(bridgeResult) });
    const added = await cniAdd({ ...base(), exec });
    expect(added._unsafeUnwrap()).toEqual({ result: bridgeResult, ip: "10.9.0.7" });
    expect(calls.map((c) => c.plugin)).toEqual(["bridge", "loopback", "portmap"]);
    for (const call of calls) {
      expect(call.env).toEqual({
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: "c1",
        CNI_NETNS: "/run/netns/x",
        CNI_IFNAME: "eth0",
        CNI_PATH: bin.dir,
      });
      expect(call.argv).toEqual([`${bin.dir}/${call.plugin}`]);
      expect(call.request.dieWithParent).toBe(true);
    }
    expect(calls[0]!.stdin).toEqual({ ...network.plugins[0], cniVersion: "1.0.0", name: "testnet" });
    expect(calls[0]!.stdin).not.toHaveProperty("prevResult");
    expect(calls[1]!.stdin).toEqual({
      type: "loopback",
      cniVersion: "1.0.0",
      name: "testnet",
      prevResult: bridgeResult,
    });
    // loopback (the fake) passed the result through; portmap gets that one
    expect(calls[2]!.stdin).toEqual({
      ...network.plugins[2],
      cniVersion: "1.0.0",
      name: "testnet",
      prevResult: bridgeResult,
    });
  });

  test("the list's cniVersion and name override the plugin's own, and a stray prevResult is dropped", async () => {
    const { exec, calls } = fakeExec();
    const odd: CniNetworkList = {
      cniVersion: "0.4.0",
      name: "outer",
      plugins: [{ type: "loopback", cniVersion: "0.3.1", name: "inner", prevResult: { bogus: 1 } }],
    };
    await cniAdd({ ...base(), network: odd, exec });
    expect(calls[0]!.stdin).toEqual({ type: "loopback", cniVersion: "0.4.0", name: "outer" });
  });

  test("the last plugin's result is returned", async () => {
    const portmapResult = { ...bridgeResult, ips: [{ interface: 2, address: "10.9.0.8/24" }] };
    const { exec } = fakeExec({ "bridge:ADD": () => okJson(bridgeResult), "portmap:ADD": () => okJson(portmapResult) });
    const added = (await cniAdd({ ...base(), exec }))._unsafeUnwrap();
    expect(added).toEqual({ result: portmapResult, ip: "10.9.0.8" });
  });

  test("a plugin's error JSON becomes a CniError naming the action, plugin and message", async () => {
    const { exec, calls } = fakeExec({
      "loopback:ADD": () => ({ ...failJson(999, "boom", "more"), exitCode: 3, stderr: "trace" }),
    });
    const error = (await cniAdd({ ...base(), exec }))._unsafeUnwrapErr();
    expect(error).toBeInstanceOf(CniError);
    expect(error).toMatchObject({
      plugin: "loopback",
      command: "ADD",
      code: 999,
      msg: "boom",
      details: "more",
      exitCode: 3,
      stderr: "trace",
      containerId: "c1",
    });
    expect(error.message).toBe("failed to set up network for sandbox c1: plugin loopback: boom (more)");
    // the bridge succeeded: its result travels with the error, for DEL
    expect(error.prevResult).toEqual({ cniVersion: "1.0.0" });
    expect(calls.map((c) => c.plugin)).toEqual(["bridge", "loopback"]);
  });

  test("a non-zero exit without error JSON falls back to stderr, then to the exit code", async () => {
    const a = fakeExec({
      "bridge:ADD": () => ({ exitCode: 2, stdout: "not json", stderr: "line1\nsomething broke\n" }),
    });
    expect((await cniAdd({ ...base(), exec: a.exec }))._unsafeUnwrapErr()).toMatchObject({
      code: "plugin-failed",
      msg: "something broke",
      exitCode: 2,
    });
    const b = fakeExec({ "bridge:ADD": () => ({ exitCode: 7, stdout: "", stderr: "" }) });
    expect((await cniAdd({ ...base(), exec: b.exec }))._unsafeUnwrapErr()).toMatchObject({
      code: "plugin-failed",
      msg: "exited with code 7",
    });
  });

  test("a string code in the error JSON is read as a number", async () => {
    const { exec } = fakeExec({
      "bridge:ADD": () => ({ exitCode: 1, stdout: '{"code":"11","msg":"try later"}', stderr: "" }),
    });
    expect((await cniAdd({ ...base(), exec }))._unsafeUnwrapErr()).toMatchObject({ code: 11, msg: "try later" });
  });

  test("exit 0 without a JSON result is invalid-result", async () => {
    const { exec } = fakeExec({ "bridge:ADD": () => ({ exitCode: 0, stdout: "hello", stderr: "" }) });
    expect((await cniAdd({ ...base(), exec }))._unsafeUnwrapErr()).toMatchObject({
      code: "invalid-result",
      plugin: "bridge",
    });
  });

  test("a plugin that cannot start is exec-failed", async () => {
    const { exec } = fakeExec({
      bridge: () => runFailure("spawn", "spawn EACCES"),
    });
    expect((await cniAdd({ ...base(), exec }))._unsafeUnwrapErr()).toMatchObject({
      code: "exec-failed",
      msg: "spawn EACCES",
    });
  });

  test("a missing binary is missing-plugin, after the plugins before it ran", async () => {
    const { exec, calls } = fakeExec({ "bridge:ADD": () => okJson(bridgeResult) });
    const withMissing: CniNetworkList = {
      ...network,
      plugins: [network.plugins[0]!, { type: "nosuch" }, { type: "loopback" }],
    };
    const error = (await cniAdd({ ...base(), network: withMissing, exec }))._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: "missing-plugin", plugin: "nosuch", command: "ADD", prevResult: bridgeResult });
    expect(error.message).toBe(
      `failed to set up network for sandbox c1: plugin nosuch: failed to find plugin "nosuch" in path ${bin.dir}`,
    );
    expect(calls.map((c) => c.plugin)).toEqual(["bridge"]);
  });

  test("a directory named like the plugin is not a plugin", async () => {
    mkdirSync(path.join(bin.dir, "adir"), { recursive: true });
    const { exec, calls } = fakeExec();
    const error = (
      await cniAdd({ ...base(), network: { ...network, plugins: [{ type: "adir" }] }, exec })
    )._unsafeUnwrapErr();
    expect(error.code).toBe("missing-plugin");
    expect(calls).toEqual([]);
  });

  test("path tricks in a type given directly (not via loadNetworkConfig) are refused before any exec", async () => {
    const { exec, calls } = fakeExec();
    for (const type of ["../../bin/sh", "/bin/sh", "..", "a b"]) {
      const error = (
        await cniAdd({ ...base(), network: { ...network, plugins: [{ type }] }, exec })
      )._unsafeUnwrapErr();
      expect(error.code).toBe("invalid-config");
    }
    expect(calls).toEqual([]);
  });

  test("the signal reaches exec; an aborted signal is code aborted", async () => {
    const controller = new AbortController();
    const { exec, calls } = fakeExec({
      bridge: (call) => {
        expect(call.request.signal).toBe(controller.signal);
        controller.abort();
        return runFailure("aborted", "bridge was aborted");
      },
    });
    const error = (await cniAdd({ ...base(), exec, signal: controller.signal }))._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: "aborted", plugin: "bridge" });
    expect(calls).toHaveLength(1);
    const again = (await cniAdd({ ...base(), exec, signal: controller.signal }))._unsafeUnwrapErr();
    expect(again.code).toBe("aborted");
    expect(calls).toHaveLength(1);
  });

  test("timeoutMs is per plugin: the plugin's signal fires after it, and the error says timeout", async () => {
    const { exec, calls } = fakeExec({
      "bridge:ADD": () => okJson(bridgeResult),
      loopback: (call) =>
        new Promise((resolve) => {
          call.request.signal!.addEventListener("abort", () => resolve(runFailure("aborted", "killed")));
        }),
    });
    // The loopback fake answers only when its signal aborts: a deadline that never fired would hang
    // (and fail at the test's timeout), not pass.
    const error = (await cniAdd({ ...base(), exec, timeoutMs: 50 }))._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: "timeout", plugin: "loopback", msg: "ADD timed out after 50 ms" });
    expect(calls.map((c) => [c.plugin, c.request.signal?.aborted])).toEqual([
      ["bridge", false],
      ["loopback", true],
    ]);
  });
});

describe("cniDel", () => {
  test("runs DEL in reverse order, each with the ADD result as prevResult, each dying with the runner", async () => {
    const { exec, calls } = fakeExec();
    const deleted = await cniDel({ ...base(), exec, prevResult: bridgeResult });
    expect(deleted._unsafeUnwrap()).toEqual({ skipped: [] });
    expect(calls.map((c) => c.plugin)).toEqual(["portmap", "loopback", "bridge"]);
    for (const [i, call] of calls.entries()) {
      expect(call.env).toEqual({
        CNI_COMMAND: "DEL",
        CNI_CONTAINERID: "c1",
        CNI_NETNS: "/run/netns/x",
        CNI_IFNAME: "eth0",
        CNI_PATH: bin.dir,
      });
      expect(call.request.dieWithParent).toBe(true);
      expect(call.stdin).toEqual({
        ...network.plugins[2 - i],
        cniVersion: "1.0.0",
        name: "testnet",
        prevResult: bridgeResult,
      });
    }
  });

  test("without a known result, no prevResult is sent", async () => {
    const { exec, calls } = fakeExec();
    await cniDel({ ...base(), exec });
    for (const call of calls) expect(call.stdin).not.toHaveProperty("prevResult");
  });

  test("configs older than 0.4.0 get no prevResult on DEL (it was not defined), as libcni does", async () => {
    const { exec, calls } = fakeExec();
    await cniDel({ ...base(), network: { ...network, cniVersion: "0.3.1" }, exec, prevResult: bridgeResult });
    for (const call of calls) expect(call.stdin).not.toHaveProperty("prevResult");
  });

  test("a plugin whose binary is missing is skipped; the others still run", async () => {
    const { exec, calls } = fakeExec();
    const withMissing: CniNetworkList = {
      ...network,
      plugins: [network.plugins[0]!, { type: "nosuch" }, { type: "loopback" }],
    };
    const deleted = await cniDel({ ...base(), network: withMissing, exec });
    expect(deleted._unsafeUnwrap()).toEqual({ skipped: ["nosuch"] });
    expect(calls.map((c) => c.plugin)).toEqual(["loopback", "bridge"]);
  });

  test("goes on past failing plugins and reports every failure", async () => {
    const { exec, calls } = fakeExec({
      "portmap:DEL": () => failJson(999, "iptables is locked"),
      "loopback:DEL": () => ({ exitCode: undefined, signal: "SIGKILL" }),
    });
    const withMissing: CniNetworkList = { ...network, plugins: [...network.plugins, { type: "nosuch" }] };
    const error = (
      await cniDel({ ...base(), network: withMissing, exec, prevResult: bridgeResult })
    )._unsafeUnwrapErr();
    expect(error).toBeInstanceOf(CniDelError);
    expect(calls.map((c) => c.plugin)).toEqual(["portmap", "loopback", "bridge"]);
    expect(error.failures.map((f) => [f.plugin, f.error.code, f.error.command])).toEqual([
      ["portmap", 999, "DEL"],
      ["loopback", "exec-failed", "DEL"],
    ]);
    expect(error.skipped).toEqual(["nosuch"]);
    expect(error.message).toBe(
      "failed to tear down network for sandbox c1: 2 plugin(s) failed: plugin portmap: iptables is locked; plugin loopback: loopback was killed by SIGKILL",
    );
    expect(error.failures[0]!.error.message).toBe(
      "failed to tear down network for sandbox c1: plugin portmap: iptables is locked",
    );
    expect(error.failures[0]!.error.prevResult).toBeUndefined();
  });

  test("an aborted signal fails every plugin without running any, and says so", async () => {
    const { exec, calls } = fakeExec();
    const controller = new AbortController();
    controller.abort();
    const error = (await cniDel({ ...base(), exec, signal: controller.signal }))._unsafeUnwrapErr();
    expect(error.failures.map((f) => f.error.code)).toEqual(["aborted", "aborted", "aborted"]);
    expect(calls).toEqual([]);
  });

  test("timeoutMs applies to each DEL, and the later ones still run", async () => {
    const { exec, calls } = fakeExec({
      "portmap:DEL": (call) =>
        new Promise((resolve) =>
          call.request.signal!.addEventListener("abort", () => resolve(runFailure("aborted", "killed"))),
        ),
    });
    const error = (await cniDel({ ...base(), exec, timeoutMs: 30 }))._unsafeUnwrapErr();
    expect(error.failures.map((f) => [f.plugin, f.error.code])).toEqual([["portmap", "timeout"]]);
    expect(calls.map((c) => c.plugin)).toEqual(["portmap", "loopback", "bridge"]);
    // the later plugins got a signal that had not fired
    expect(calls[1]!.request.signal!.aborted).toBe(false);
  });
});

describe("sandboxIp", () => {
  test("prefers the ip on a sandbox interface", () => {
    const result = {
      interfaces: [{ name: "br" }, { name: "eth0", sandbox: "/run/netns/x" }],
      ips: [
        { interface: 0, address: "10.0.0.1/24" },
        { interface: 1, address: "10.0.0.2/24" },
      ],
    };
    expect(sandboxIp(result)).toBe("10.0.0.2");
  });
  test("falls back to the first ip, handles IPv6 and legacy results, and undefined without one", () => {
    expect(
      sandboxIp({
        interfaces: [{ name: "br", sandbox: "" }],
        ips: [{ interface: 0, address: "fd00::5/64" }, { address: "10.0.0.3/24" }],
      }),
    ).toBe("fd00::5");
    expect(sandboxIp({ ips: [{ address: "10.0.0.4" }] })).toBe("10.0.0.4");
    expect(sandboxIp({ ip4: { ip: "10.0.0.9/16" } })).toBe("10.0.0.9");
    expect(sandboxIp({})).toBeUndefined();
    expect(sandboxIp({ ips: "nope" } as never)).toBeUndefined();
  });
});
