// A CNI plugin that never stops writing, chained after the real bridge, through the CLI: the runner
// kills it at the output limit (16 MiB per stream), the run fails with an error naming the plugin
// and the limit, and is rolled back: nothing is left.
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it, onTestFinished } from "vitest";
import { DEFAULT_MAX_OUTPUT_BYTES } from "errdefer/host";
import { testCniBinDir } from "../support/root.js";
import { describeSandbox, linksWithMaster, nothingHeld, SandboxEnv, show } from "./support/sandbox.js";

/** On ADD, writes to stdout for ever; on DEL, exits 0 at once (one process: nothing outlives it). */
const endless = `
const fs = require("node:fs");
fs.readFileSync(0);
if (process.env.CNI_COMMAND !== "ADD") process.exit(0);
const chunk = Buffer.alloc(1 << 16, "y");
const write = () => {
  while (process.stdout.write(chunk));
  process.stdout.once("drain", write);
};
write();
`;

describeSandbox("sandbox-runner and a plugin's endless output (root, through the CLI)", () => {
  const env = new SandboxEnv(9);
  const pod = env.podConfig({ metadata: { name: "web", namespace: "default" } });
  // The real plugins and the fake, in a bin dir of the file's own.
  const bin = path.join(env.work, "bin");
  beforeAll(() => {
    mkdirSync(bin, { recursive: true });
    for (const real of ["bridge", "host-local", "loopback"])
      symlinkSync(path.join(testCniBinDir, real), path.join(bin, real));
    writeFileSync(path.join(bin, "endless"), `#!${process.execPath}\n${endless}`);
    chmodSync(path.join(bin, "endless"), 0o755);
  });
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  it("is killed at the output limit; the run fails naming it and the limit, and is rolled back", async () => {
    const lane = env.lane();
    const confDir = path.join(env.work, "net.d");
    mkdirSync(confDir, { recursive: true });
    const bridge = {
      type: "bridge",
      bridge: env.bridge,
      isGateway: false,
      ipMasq: false,
      ipam: {
        type: "host-local",
        ranges: [[{ subnet: env.subnet }]],
        dataDir: env.cniDataDir,
      },
    };
    const list = { cniVersion: "1.0.0", name: "endless", plugins: [bridge, { type: "endless" }] };
    writeFileSync(path.join(confDir, "10-endless.conflist"), JSON.stringify(list));

    const runner = lane.start(["--cni-conf-dir", confDir, "--cni-bin-dir", bin, "run", pod], { progress: true });
    // Without a limit the runner would buffer for ever (past 10 GB in a minute when the cap was
    // removed): whatever happens, it does not outlive the test.
    onTestFinished(() => runner.kill("SIGKILL"));
    const r = await runner.done;
    expect(r.code, show(r)).toBe(1);
    const limit = `${path.join(bin, "endless")} wrote more than ${DEFAULT_MAX_OUTPUT_BYTES} bytes to stdout and was killed`;
    expect(r.stderr).toContain(`plugin endless: ${limit}`);
    // The rollback ran the bridge's DEL (and the fake's).
    expect(r.stderr).toMatch(/↩ cni-del/);
    expect(await lane.ls()).toEqual([]);
    expect(lane.held()).toEqual(nothingHeld);
    expect(linksWithMaster(env.bridge)).toEqual([]);
  }, 60_000);
});
