import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  CniConfigError,
  defaultNetworkConfig,
  ensureNetworkConfig,
  ipv4CidrProblem,
  loadNetworkConfig,
  validateNetworkList,
} from "../../../examples/sandbox-runner/cni/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "cni-unit-conf-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const list = { cniVersion: "1.0.0", name: "net1", plugins: [{ type: "bridge", bridge: "br1" }, { type: "loopback" }] };
const write = (name: string, value: unknown) =>
  writeFileSync(path.join(dir, name), typeof value === "string" ? value : JSON.stringify(value));

async function loadError(): Promise<CniConfigError> {
  const error = (await loadNetworkConfig(dir))._unsafeUnwrapErr();
  expect(error).toBeInstanceOf(CniConfigError);
  return error;
}

describe("loadNetworkConfig", () => {
  test("undefined when the dir has no config, or does not exist", async () => {
    write("README", "hello");
    write("99-x.conflist.bak", list);
    mkdirSync(path.join(dir, "00-dir.conflist"));
    expect((await loadNetworkConfig(dir))._unsafeUnwrap()).toBeUndefined();
    expect((await loadNetworkConfig(path.join(dir, "nope")))._unsafeUnwrap()).toBeUndefined();
  });

  test("picks the first file in lexical (code unit) order among .conflist, .conf and .json", async () => {
    write("20-b.conflist", { ...list, name: "b" });
    write("10-a.json", { cniVersion: "1.0.0", name: "a", type: "bridge" });
    write("Z-upper.conf", { cniVersion: "1.0.0", name: "upper", type: "bridge" });
    // code unit order, as Go's sort.Strings: digits < uppercase < lowercase, extension irrelevant
    let loaded = (await loadNetworkConfig(dir))._unsafeUnwrap()!;
    expect(loaded.config.name).toBe("a");
    expect(loaded.file).toBe(path.join(dir, "10-a.json"));
    rmSync(path.join(dir, "10-a.json"));
    write("a-lower.conflist", { ...list, name: "lower" });
    loaded = (await loadNetworkConfig(dir))._unsafeUnwrap()!;
    expect(loaded.config.name).toBe("b");
    rmSync(path.join(dir, "20-b.conflist"));
    loaded = (await loadNetworkConfig(dir))._unsafeUnwrap()!;
    expect(loaded.config.name).toBe("upper");
  });

  test("a .conflist is returned as is", async () => {
    write("10.conflist", { ...list, extra: { kept: true } });
    expect((await loadNetworkConfig(dir))._unsafeUnwrap()).toEqual({
      config: { ...list, extra: { kept: true } },
      file: path.join(dir, "10.conflist"),
    });
  });

  test("a single .conf is normalised into a list of one plugin", async () => {
    const conf = { cniVersion: "0.4.0", name: "single", type: "bridge", bridge: "br0", ipam: { type: "host-local" } };
    write("10.conf", conf);
    expect((await loadNetworkConfig(dir))._unsafeUnwrap()!.config).toEqual({
      cniVersion: "0.4.0",
      name: "single",
      plugins: [conf],
    });
  });

  test("a list in a .conf is refused with a hint", async () => {
    write("10.conf", list);
    const error = await loadError();
    expect(error).toMatchObject({ file: path.join(dir, "10.conf"), field: "type" });
    expect(error.message).toContain("belongs in a .conflist");
  });

  test("bad JSON names the file and where, and quotes none of it", async () => {
    write("10.conflist", '{"cniVersion": "1.0.0",\n "SECRET');
    const error = await loadError();
    expect(error.file).toBe(path.join(dir, "10.conflist"));
    expect(error.message).toBe(
      `invalid CNI network configuration ${dir}/10.conflist: not valid JSON at line 2, column 9`,
    );
  });

  test("a bad first file is an error, not a reason to fall through to the next", async () => {
    write("10.conflist", "[]");
    write("20.conflist", list);
    expect((await loadError()).reason).toBe("must be a JSON object, got an array");
  });

  test.each([
    [{ name: "n", plugins: [{ type: "bridge" }] }, "cniVersion", "is missing"],
    [{ cniVersion: 1, name: "n", plugins: [{ type: "bridge" }] }, "cniVersion", "must be a string, got number"],
    [
      { cniVersion: "one", name: "n", plugins: [{ type: "bridge" }] },
      "cniVersion",
      '"one" is not a version such as "1.0.0"',
    ],
    [{ cniVersion: "1.0.0", plugins: [{ type: "bridge" }] }, "name", "is missing"],
    [
      { cniVersion: "1.0.0", name: "../etc", plugins: [{ type: "bridge" }] },
      "name",
      '"../etc" must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$',
    ],
    [{ cniVersion: "1.0.0", name: "n" }, "plugins", "is missing"],
    [{ cniVersion: "1.0.0", name: "n", plugins: {} }, "plugins", "must be an array, got object"],
    [{ cniVersion: "1.0.0", name: "n", plugins: [] }, "plugins", "must list at least one plugin"],
    [
      { cniVersion: "1.0.0", name: "n", plugins: [{ type: "bridge" }, "loopback"] },
      "plugins[1]",
      'must be an object, got "loopback"',
    ],
    [{ cniVersion: "1.0.0", name: "n", plugins: [{ type: "bridge" }, {}] }, "plugins[1].type", "is missing"],
    [{ cniVersion: "1.0.0", name: "n", plugins: [{ type: 5 }] }, "plugins[0].type", "must be a string, got number"],
  ])("missing or wrong fields: %j → %s", async (value, field, reason) => {
    write("10.conflist", value);
    const error = await loadError();
    expect(error).toMatchObject({ code: "invalid", file: path.join(dir, "10.conflist"), field, reason });
    expect(error.message).toBe(
      `invalid CNI network configuration ${path.join(dir, "10.conflist")}: ${field}: ${reason}`,
    );
  });

  test.each(["../../bin/sh", "/bin/sh", "sub/bridge", "..", ".", "bridge;rm -rf /", "", "br idge", "$(id)"])(
    "path tricks in type are refused: %j",
    async (type) => {
      write("10.conflist", { ...list, plugins: [{ type: "bridge" }, { type }] });
      const error = await loadError();
      expect(error.field).toBe("plugins[1].type");
      rmSync(path.join(dir, "10.conflist"));
      write("10.conf", { cniVersion: "1.0.0", name: "n", type });
      expect((await loadError()).field).toBe("type");
    },
  );

  test("an unreadable dir is an io error", async () => {
    write("file", "x");
    const error = (await loadNetworkConfig(path.join(dir, "file")))._unsafeUnwrapErr();
    expect(error.code).toBe("io");
  });

  test("validateNetworkList accepts what the loader accepts (for configs stored with a sandbox)", () => {
    expect(validateNetworkList(list)._unsafeUnwrap()).toBe(list);
    expect(validateNetworkList(null)._unsafeUnwrapErr().file).toBeUndefined();
  });
});

const settings = (over: Record<string, unknown> = {}) =>
  ({ networkName: "edt", bridge: "edt0", subnet: "10.251.3.0/24", dataDir: "/var/lib/cni/networks", ...over }) as never;

describe("defaultNetworkConfig", () => {
  test("bridge (no gateway, no masquerade) with host-local, then loopback", () => {
    expect(defaultNetworkConfig(settings())._unsafeUnwrap()).toEqual({
      cniVersion: "1.0.0",
      name: "edt",
      plugins: [
        {
          type: "bridge",
          bridge: "edt0",
          isGateway: false,
          ipMasq: false,
          ipam: { type: "host-local", ranges: [[{ subnet: "10.251.3.0/24" }]], dataDir: "/var/lib/cni/networks" },
        },
        { type: "loopback" },
      ],
    });
  });

  test.each([
    [{ bridge: "" }, "bridge"],
    [{ bridge: "a-very-long-bridge" }, "bridge"],
    [{ bridge: "br/0" }, "bridge"],
    [{ bridge: "br 0" }, "bridge"],
    [{ bridge: ".." }, "bridge"],
    [{ subnet: "10.0.0.0" }, "subnet"],
    [{ subnet: "10.0.0.0/33" }, "subnet"],
    [{ subnet: "10.0.0.0/31" }, "subnet"],
    [{ subnet: "300.0.0.0/8" }, "subnet"],
    [{ subnet: "fd00::/64" }, "subnet"],
    [{ subnet: "10.0.0.5/24" }, "subnet"],
    [{ networkName: "a/b" }, "networkName"],
    [{ dataDir: "relative" }, "dataDir"],
  ])("refuses %j", (over, field) => {
    const error = defaultNetworkConfig(settings(over))._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: "invalid", field, file: undefined });
    expect(error.message).toMatch(new RegExp(`^invalid CNI network configuration ${field}: `));
  });

  test("subnet errors say what is wrong", () => {
    expect(ipv4CidrProblem("10.0.0.5/24")).toBe('"10.0.0.5/24" has host bits set; did you mean "10.0.0.0/24"?');
    expect(ipv4CidrProblem("10.0.0.0/31")).toContain("at most 30");
    expect(ipv4CidrProblem("10.1.0.0/16")).toBeUndefined();
    expect(ipv4CidrProblem("010.1.0.0/16")).toContain("is not an IPv4 CIDR");
  });
});

describe("ensureNetworkConfig", () => {
  test("writes the default (0644, nothing else left in the dir) when there is none, then loads it", async () => {
    const confDir = path.join(dir, "net.d");
    const loaded = (await ensureNetworkConfig(confDir, settings()))._unsafeUnwrap();
    expect(loaded.file).toBe(path.join(confDir, "10-edt.conflist"));
    expect(loaded.config).toEqual(defaultNetworkConfig(settings())._unsafeUnwrap());
    expect(readdirSync(confDir)).toEqual(["10-edt.conflist"]);
    expect(statSync(loaded.file).mode & 0o777).toBe(0o644);
    expect(JSON.parse(readFileSync(loaded.file, "utf8"))).toEqual(loaded.config);
  });

  test("keeps an existing config, even a different one", async () => {
    write("50-mine.conflist", list);
    const loaded = (await ensureNetworkConfig(dir, settings()))._unsafeUnwrap();
    expect(loaded.config).toEqual(list);
    expect(readdirSync(dir)).toEqual(["50-mine.conflist"]);
  });

  test("invalid defaults write nothing", async () => {
    const error = (await ensureNetworkConfig(dir, settings({ bridge: "much-too-long-name" })))._unsafeUnwrapErr();
    expect(error.field).toBe("bridge");
    expect(readdirSync(dir)).toEqual([]);
  });

  test("concurrent ensures agree and leave one file", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => ensureNetworkConfig(dir, settings())));
    for (const r of results) expect(r._unsafeUnwrap().file).toBe(path.join(dir, "10-edt.conflist"));
    expect(readdirSync(dir)).toEqual(["10-edt.conflist"]);
  });
});
