// Chooses the run's netns prefix and, at the end, fails the run if anything carrying it remains,
// or if the host's host-local data dir appeared (a test ran CNI without its own --cni-data-dir).
// Builds the bundled CLI the tests start, when it is stale.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { buildCli } from "../../scripts/build-cli.js";
import { findLeftovers, removeLeftovers } from "./leftovers.js";

export default async function setup(project: TestProject): Promise<() => void> {
  // The CLI tests start the bundled CLI (hundreds of times): built here once, when stale.
  await buildCli();
  const prefix = `edt${randomBytes(3).toString("hex")}-`;
  project.provide("netnsRunPrefix", prefix);
  const hostCniData = "/var/lib/cni/networks";
  const hadHostCniData = existsSync(hostCniData);
  return () => {
    const left = findLeftovers(prefix);
    if (!hadHostCniData && existsSync(hostCniData))
      left.push(`${hostCniData} (a test ran host-local without its own --cni-data-dir; not removed)`);
    if (left.length === 0) return;
    removeLeftovers(prefix);
    // vitest only logs an error thrown at close; the exit code is what fails CI.
    process.exitCode = 1;
    throw new Error(
      `the test run left ${left.length} namespace(s), mount(s), file(s), link(s) or cgroup(s) with prefix ${prefix} behind (now removed):\n  ${left.join("\n  ")}`,
    );
  };
}
