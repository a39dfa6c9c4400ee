// Every relative link in the README, docs/ and the runner's README points to a file that exists,
// and an anchor to a heading of that file: moving a section must not leave a dead link behind.
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { anchors, docFiles, readDoc, relativeLinks, root } from "./markdown.js";

describe("the docs' links", () => {
  const links = docFiles().flatMap((f) => relativeLinks(f, readDoc(f)));

  it("finds links to check", () => {
    expect(links.length).toBeGreaterThan(10);
  });

  it("reach a file that exists, and a heading of it", () => {
    const dead = links.flatMap((link) => {
      const [target = "", anchor] = link.target.split("#");
      const file =
        target === "" ? link.file : path.posix.normalize(path.posix.join(path.posix.dirname(link.file), target));
      const where = `${link.file}:${link.line}: ${link.target}`;
      if (!existsSync(path.join(root, file))) return [`${where}: no file ${file}`];
      if (anchor === undefined || !file.endsWith(".md")) return [];
      return anchors(readDoc(file)).has(anchor) ? [] : [`${where}: no heading #${anchor} in ${file}`];
    });
    expect(dead).toEqual([]);
  });

  it("computes GitHub's heading anchors", () => {
    const text =
      "# A\n## The rules in short\n## tx.acquire: releases, by default\n## Network namespaces: `errdefer/netns`\n## A\n```sh\n# not a heading\n```\n";
    expect([...anchors(text)]).toEqual([
      "a",
      "the-rules-in-short",
      "txacquire-releases-by-default",
      "network-namespaces-errdefernetns",
      "a-1",
    ]);
  });
});
