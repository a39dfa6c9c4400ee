// A state dir whose owner tag the test chooses (examples/sandbox-runner/ownership.ts): the runner
// reads `<state>/owner` at open, so ids of "ours" and of "another state dir" can be made up front.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Creates `stateDir` (0700) with an owner file holding a new random tag, and returns the tag. */
export function presetOwner(stateDir: string, tag = randomBytes(4).toString("hex")): string {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(stateDir, "owner"), `${tag}\n`, { mode: 0o600, flag: "wx" });
  return tag;
}

/** The tag of a state dir a runner has opened. */
export function ownerTag(stateDir: string): string {
  return readFileSync(path.join(stateDir, "owner"), "utf8").trim();
}

/** A sandbox id of the state dir tagged `tag`. */
export function idOf(tag: string): string {
  return `${randomBytes(12).toString("hex")}${tag}`;
}

/** A tag that is not `tag`. */
export function otherTag(tag: string): string {
  for (;;) {
    const other = randomBytes(4).toString("hex");
    if (other !== tag) return other;
  }
}
