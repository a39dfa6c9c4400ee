// Root test gating: with CI=true a missing prerequisite fails the suite; elsewhere it skips.
import { execFileSync } from "node:child_process";
import { describe, test } from "vitest";

const tools = ["ip", "unshare", "nsenter", "mount", "umount", "setpriv"];

/** Why the root tests cannot run here, or undefined when they can. */
export function rootProblem(): string | undefined {
  if (process.getuid?.() !== 0) return "the netns root tests need root (CAP_SYS_ADMIN)";
  const missing = tools.filter((tool) => {
    try {
      execFileSync("sh", ["-c", 'command -v "$1"', "sh", tool], { stdio: "ignore" });
      return false;
    } catch {
      return true;
    }
  });
  return missing.length === 0 ? undefined : `the netns root tests need ${missing.join(", ")} on PATH`;
}

const problem = rootProblem();

/**
 * Like describe, for tests against the real kernel; see the file comment for when it skips.
 * `also` names further prerequisites (runc, CNI plugins, ...), gated the same way.
 */
export function describeRoot(name: string, body: () => void, also?: string): void {
  const missing = problem ?? also;
  if (missing !== undefined && process.env.CI === "true") {
    describe(name, () => {
      test("has its prerequisites (CI=true: missing ones fail rather than skip)", () => {
        throw new Error(missing);
      });
    });
    return;
  }
  describe.skipIf(missing !== undefined)(name, body);
}
