// Output and input hygiene through the CLI (issue 15, items 11-13): what a pod config, a record or
// an argument holds reaches the terminal escaped; no file's content is quoted in an error; flags
// that change nothing say so.
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeSandbox, SandboxEnv, show, type CliResult } from "./support/sandbox.js";

const md = { name: "web", namespace: "default" };
const sc = (securityContext: Record<string, unknown>) => ({
  metadata: md,
  linux: { security_context: securityContext },
});
/** CRI fields the runner does not implement: [the config, the field named]. containerd implements each. */
const unsupported: [Record<string, unknown>, string][] = [
  [{ metadata: md, port_mappings: [{ container_port: 80, host_port: 8080 }] }, "port_mappings"],
  [{ metadata: md, log_directory: "/var/log/pods/web" }, "log_directory"],
  [{ metadata: md, dns_config: { servers: ["8.8.8.8"] } }, "dns_config"],
  [{ metadata: md, linux: { sysctls: { "net.ipv4.ip_forward": "1" } } }, "linux.sysctls"],
  [{ metadata: md, linux: { cgroup_parent: "/kubepods" } }, "linux.cgroup_parent"],
  [sc({ privileged: true }), "linux.security_context.privileged"],
  [sc({ namespace_options: { pid: "NODE" } }), "linux.security_context.namespace_options.pid"],
  [sc({ namespace_options: { ipc: 2 } }), "linux.security_context.namespace_options.ipc"],
  [sc({ run_as_user: { value: 1000 } }), "linux.security_context.run_as_user"],
  [sc({ seccomp: { profile_type: "RuntimeDefault" } }), "linux.security_context.seccomp"],
  [sc({ supplemental_groups: [10] }), "linux.security_context.supplemental_groups"],
];
/** The same fields, empty or at their default: accepted. */
const defaults = {
  metadata: { name: "defaults", namespace: "default" },
  port_mappings: [],
  log_directory: "",
  dns_config: { servers: [], searches: [], options: [] },
  linux: {
    sysctls: {},
    cgroup_parent: "",
    security_context: {
      privileged: false,
      namespace_options: { network: "NODE", pid: "POD", ipc: 0 },
      run_as_user: { value: 0 },
      supplemental_groups: [],
      seccomp: { profile_type: "Unconfined" },
    },
  },
};

/** What a terminal would interpret: controls (but the newline ending each line), format characters. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const rawIn = (text: string) => UNSAFE.exec(text.replaceAll("\n", ""))?.[0];

function expectEscaped(r: CliResult): void {
  expect(rawIn(r.stdout), `stdout holds a raw control or format character\n${show(r)}`).toBeUndefined();
  expect(rawIn(r.stderr), `stderr holds a raw control or format character\n${show(r)}`).toBeUndefined();
}

const hostNetwork = { security_context: { namespace_options: { network: "NODE" } } };
/** What a pod config may hold (C0 controls are refused there): C1 CSI, bidi override and isolate. */
const sly = "a\u009b2J\u202egnp.exe\u2066x\u200f";
/** What only a hand-edited record can hold. */
const hostile = "\u001b]0;pwned\u0007\u001b[2J\u202e";

describeSandbox("sandbox-runner output hygiene (root, through the CLI)", () => {
  const env = new SandboxEnv(13);
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  it.concurrent("escapes C1, bidi and escape sequences in ls, inspect, progress and errors", async () => {
    const lane = env.lane();
    const config = {
      metadata: { name: "web", namespace: "default", uid: sly },
      labels: { [`k${sly}`]: sly },
      annotations: { note: sly },
      linux: hostNetwork,
    };
    const run = await lane.cli(["--json", "run", env.podConfig(config)], { progress: true });
    expect(run.code, show(run)).toBe(0);
    expectEscaped(run);
    const { id } = JSON.parse(run.stdout) as { id: string };

    // A second run of the same name: its error (progress and the last line) quotes the uid.
    const again = await lane.cli(["run", env.podConfig(config)], { progress: true });
    expect(again.code, show(again)).toBe(1);
    expect(again.stderr).toContain("is reserved for sandbox");
    expect(again.stderr).toContain("\\u202e");
    expectEscaped(again);

    // A hand-edited record: escape sequences in every text field.
    const file = path.join(lane.stateDir, "sandboxes", `${id}.json`);
    const record = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    const edited = { ...record, name: `n${hostile}`, namespace: `ns${hostile}`, error: `e${hostile}\nfake line` };
    writeFileSync(file, JSON.stringify({ ...edited, labels: { [hostile]: hostile }, annotations: { a: hostile } }));

    for (const args of [["ls"], ["inspect", id], ["--json", "ls"], ["--json", "inspect", id]]) {
      // Without -q (`progress`): `ls -q` prints the ids alone.
      const r = await lane.cli(args, { progress: true });
      expect(r.code, show(r)).toBe(0);
      expectEscaped(r);
      expect(r.stdout).toContain("\\u001b");
    }
    // --json stays JSON, and means the very same text.
    const json = await lane.cli(["--json", "inspect", id]);
    const shown = JSON.parse(json.stdout) as { name: string; labels: Record<string, string>; error: string };
    expect([shown.name, shown.labels[hostile], shown.error]).toEqual([
      `n${hostile}`,
      hostile,
      `e${hostile}\nfake line`,
    ]);
    const listed = JSON.parse((await lane.cli(["--json", "ls"])).stdout) as { namespace: string }[];
    expect(listed[0]!.namespace).toBe(`ns${hostile}`);

    // An id argument is quoted in the error.
    const unknown = await lane.cli(["inspect", `\u202e${hostile}`]);
    expect(unknown.code, show(unknown)).toBe(1);
    expectEscaped(unknown);

    const rm = await lane.cli(["rm", id]);
    expect(rm.code, show(rm)).toBe(0);
    expect(await lane.ls()).toEqual([]);
  });

  it.concurrent("refuses CRI fields it does not implement (exit 2, the field named), accepts them empty", async () => {
    const lane = env.lane();
    for (const [config, field] of unsupported) {
      const r = await lane.cli(["run", env.podConfig(config)]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain(`${field}: is not supported by this runner`);
      expect(existsSync(lane.stateDir), field).toBe(false);
    }
    const ok = await lane.cli(["--json", "run", env.podConfig(defaults)]);
    expect(ok.code, show(ok)).toBe(0);
    const rm = await lane.cli(["rm", (JSON.parse(ok.stdout) as { id: string }).id]);
    expect(rm.code, show(rm)).toBe(0);
  });

  it.concurrent("recover skips a record whose id is not its file name's, says why, and goes on", async () => {
    const lane = env.lane();
    // gc prepares the state dir (ls reads without creating anything).
    expect((await lane.cli(["gc", "--dry-run"])).code).toBe(0);
    const dir = path.join(lane.stateDir, "sandboxes");
    const [bad, dead] = ["a".repeat(32), "b".repeat(32)];
    const record = (id: string, name: string, createdAt: string) =>
      JSON.stringify({
        ...{ v: 1, id, name, namespace: "default", uid: "", attempt: 0, state: "READY", createdAt },
        ...{ hostNetwork: true, netnsPath: null, ip: null, hostname: null, labels: {}, annotations: {} },
        ...{ resources: [], steps: [], error: null },
      });
    // Hand-edited: it names another sandbox (a path, even); it sorts first.
    writeFileSync(path.join(dir, `${bad}.json`), record("../../../etc/x", "bad", "2020-01-01T00:00:00.000Z"));
    writeFileSync(path.join(dir, `${dead}.json`), record(dead, "dead", "2021-01-01T00:00:00.000Z"));
    const r = await lane.cli(["recover"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain(
      `skipped  record ${bad}.json: sandbox record ${bad} names sandbox "../../../etc/x", not the ${bad} of its file name`,
    );
    // It went on: the READY record whose pause container is gone is NOTREADY now.
    expect((await lane.inspect(dead)).state).toBe("NOTREADY");
    expect(readFileSync(path.join(dir, `${bad}.json`), "utf8")).toContain("../../../etc/x");
  });

  it.concurrent(
    "rm of a record holding a refused entry fails, with a hint, until rm --quarantine sets it aside",
    async () => {
      const lane = env.lane();
      const pod = env.podConfig({ metadata: { name: "q", namespace: "default" }, linux: hostNetwork });
      const run = await lane.cli(["--json", "run", pod]);
      expect(run.code, show(run)).toBe(0);
      const { id } = JSON.parse(run.stdout) as { id: string };
      const file = path.join(lane.stateDir, "sandboxes", `${id}.json`);
      const record = JSON.parse(readFileSync(file, "utf8")) as { resources: unknown[] };
      const foreign = { dir: "/etc", name: "passwd" };
      record.resources.splice(2, 0, { step: "create-netns", kind: "netns", guard: true, description: foreign });
      writeFileSync(file, JSON.stringify(record));

      for (let i = 0; i < 2; i++) {
        const refused = await lane.cli(["rm", id]);
        expect(refused.code, show(refused)).toBe(1);
        expect(refused.stderr).toContain('refusing to release network namespace in "/etc"');
        expect(refused.stderr).toContain("`rm --quarantine ID` sets it aside");
      }
      const set = await lane.cli(["rm", "--quarantine", id]);
      expect(set.code, show(set)).toBe(0);
      expect(set.stderr).toMatch(
        /quarantined netns -> \S+\/quarantine\/\S+\.json: refusing to release network namespace in "\/etc"/,
      );
      const quarantine = path.join(lane.stateDir, "quarantine");
      const files = readdirSync(quarantine);
      expect(files).toHaveLength(1);
      expect(JSON.parse(readFileSync(path.join(quarantine, files[0]!), "utf8"))).toMatchObject({
        source: "record",
        kind: "netns",
        description: foreign,
      });
      expect(await lane.ls()).toEqual([]);
      expect(existsSync("/etc/passwd")).toBe(true);
    },
  );

  it.concurrent(
    "recover of a refused journal entry fails, with a hint, until recover --quarantine; then clean",
    async () => {
      const lane = env.lane();
      const pod = env.podConfig({ metadata: { name: "j", namespace: "default" } });
      const run = await lane.cli(["run", "--failpoint", "cni-add=crash", pod]);
      expect(run.signal, show(run)).toBe("SIGKILL");
      // Another prefix than the run's: its namespace is not this runner's.
      const other = ["--prefix", `${lane.prefix}x-`];
      for (let i = 0; i < 2; i++) {
        const refused = await lane.cli([...other, "recover"]);
        expect(refused.code, show(refused)).toBe(1);
        expect(refused.stdout, show(refused)).toContain("refusing to release CNI attachment in network namespace");
        expect(refused.stderr).toContain("`recover --quarantine` sets it aside");
      }
      const set = await lane.cli([...other, "--json", "recover", "--quarantine"]);
      expect(set.code, show(set)).toBe(0);
      const report = JSON.parse(set.stdout) as { failed: unknown[]; quarantined: { kind: string; file: string }[] };
      expect(report.failed).toEqual([]);
      expect(report.quarantined.map((q) => q.kind).sort()).toEqual(["cni", "netns"]);
      for (const q of report.quarantined)
        expect(JSON.parse(readFileSync(q.file, "utf8"))).toMatchObject({ source: "journal" });
      const clean = await lane.cli([...other, "--json", "recover"]);
      expect(clean.code, show(clean)).toBe(0);
      expect(JSON.parse(clean.stdout)).toMatchObject({ transactions: 0, failed: [], quarantined: [] });
      // What the entries named was not touched: the namespace is there, for gc with the run's prefix.
      expect(lane.netns()).toHaveLength(1);
      const gc = await lane.cli(["gc"]);
      expect(gc.code, show(gc)).toBe(0);
      expect(lane.netns()).toEqual([]);
    },
  );

  it.concurrent("warns that --bridge/--subnet are ignored once the conf dir has a conflist, naming it", async () => {
    const lane = env.lane();
    const pod = env.podConfig({ metadata: { name: "net", namespace: "default" } });
    const first = await lane.cli(["--json", "run", pod]);
    expect(first.code, show(first)).toBe(0);
    // The default conflist was written from these very flags: nothing to warn about.
    expect(first.stderr).toBe("");
    const other = env.podConfig({ metadata: { name: "net2", namespace: "default" } });
    const second = await lane.cli(["--json", "--bridge", "elsewhere0", "--subnet", "10.99.0.0/16", "run", other]);
    expect(second.code, show(second)).toBe(0);
    const conflist = path.join(lane.stateDir, "cni", "net.d", "10-errdefer.conflist");
    expect(second.stderr).toContain(`--bridge elsewhere0 is ignored: the CNI conf dir's conflist ${conflist} wins`);
    expect(second.stderr).toContain(`--subnet 10.99.0.0/16 is ignored: the CNI conf dir's conflist ${conflist} wins`);
    // The conflist did win.
    const ip = (JSON.parse(second.stdout) as { ip: string }).ip;
    expect(ip.startsWith(`${env.subnetBase}.`), ip).toBe(true);
    for (const r of [first, second]) {
      const rm = await lane.cli(["rm", (JSON.parse(r.stdout) as { id: string }).id]);
      expect(rm.code, show(rm)).toBe(0);
    }
  });

  it.concurrent(
    "quotes nothing of a pod config, a conflist or a record that is not JSON: its position only",
    async () => {
      const lane = env.lane();
      const secret = path.join(env.work, "shadow");
      writeFileSync(secret, "root:$6$SECRETHASH:19000:0:99999:7:::\n", { mode: 0o600 });
      const link = path.join(env.work, "pod-link.json");
      symlinkSync(secret, link);
      const pod = await lane.cli(["run", link]);
      expect(pod.code, show(pod)).toBe(2);
      expect(pod.stderr).toContain(`pod config ${link} is not valid JSON at line 1, column 1`);
      expect(pod.stderr).not.toContain("SECRET");
      const torn = await lane.cli(["run", env.podConfig('{\n  "metadata": {"name": "web", SECRET')]);
      expect(torn.stderr).toContain("is not valid JSON at line 2, column 31");
      expect(torn.stderr).not.toContain("SECRET");

      // A conflist symlinked to the secret.
      const confDir = path.join(env.work, `net-${path.basename(lane.stateDir)}`);
      mkdirSync(confDir);
      symlinkSync(secret, path.join(confDir, "00-shadow.conflist"));
      const net = await lane.cli([
        "--cni-conf-dir",
        confDir,
        "run",
        env.podConfig({ metadata: { name: "w", namespace: "d" } }),
      ]);
      expect(net.code, show(net)).not.toBe(0);
      expect(net.stderr).toContain("not valid JSON at line 1, column 1");
      expect(net.stderr).not.toContain("SECRET");

      // A record symlinked to it: `ls` reports it unreadable, by position.
      const ls = await lane.cli(["ls"]);
      expect(ls.code, show(ls)).toBe(0);
      symlinkSync(secret, path.join(lane.stateDir, "sandboxes", `${"ab".repeat(16)}.json`));
      const listed = await lane.cli(["ls"]);
      expect(listed.code, show(listed)).toBe(0);
      expect(listed.stderr).toContain("not valid JSON at line 1, column 1");
      expect(listed.stderr).not.toContain("SECRET");
    },
  );
});
