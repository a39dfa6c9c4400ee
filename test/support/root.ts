// Root test gating: with CI=true a missing prerequisite fails the suite; elsewhere it skips, cleanly:
// a skipped suite's body is never run (so nothing it would make while collecting is made), and the
// skip says what is missing and how to install it.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, test } from "vitest";

const tools = ["ip", "unshare", "nsenter", "mount", "umount", "setpriv"];

/** What installs every prerequisite of the root tests: the README's first command. */
export const INSTALL_HINT = "run the README's first command, as root: bash examples/sandbox-runner/demo.sh";

/**
 * Where the root tests look for the CNI plugins: /usr/lib/cni, or `ERRDEFER_TEST_CNI_BIN_DIR`
 * (for hosts that keep them elsewhere, such as /opt/cni/bin, and for the test that hides them).
 */
export const testCniBinDir = process.env.ERRDEFER_TEST_CNI_BIN_DIR ?? "/usr/lib/cni";

/** Whether `name` is a command on PATH, as the shell finds it. */
export function onPath(name: string): boolean {
  try {
    execFileSync("sh", ["-c", 'command -v "$1"', "sh", name], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why the root tests cannot run here, or undefined when they can. */
export function rootProblem(): string | undefined {
  if (process.getuid?.() !== 0) return "the netns root tests need root (CAP_SYS_ADMIN)";
  const missing = tools.filter((tool) => !onPath(tool));
  return missing.length === 0 ? undefined : `the netns root tests need ${missing.join(", ")} on PATH`;
}

/** The CNI plugins `plugins` missing from {@link testCniBinDir}, as paths. */
export function missingCniPlugins(plugins: readonly string[] = ["bridge", "host-local", "loopback"]): string[] {
  return plugins.map((p) => path.join(testCniBinDir, p)).filter((p) => !existsSync(p));
}

const problem = rootProblem();

/**
 * Like describe, for tests against the real kernel; see the file comment for when it skips.
 * `also` names further prerequisites (runc, CNI plugins, ...), gated the same way.
 */
export function describeRoot(name: string, body: () => void, also?: string): void {
  const missing = problem ?? also;
  if (missing === undefined) {
    describe(name, body);
    return;
  }
  if (process.env.CI === "true") {
    describe(name, () => {
      test("has its prerequisites (CI=true: missing ones fail rather than skip)", () => {
        throw new Error(`${missing}; ${INSTALL_HINT}`);
      });
    });
    return;
  }
  // Not describe.skipIf(true)(name, body): vitest still runs a skipped suite's body to collect its
  // tests, and what that makes (a work dir) has no afterAll to remove it.
  const message = `skipped: ${missing}; to run them, ${INSTALL_HINT}`;
  console.warn(`${name}: ${message}`);
  describe.skip(name, () => {
    test(message, () => undefined);
  });
}
