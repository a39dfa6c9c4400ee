// Every ```ts block of the README, docs/ and the runner's README type-checks against the library,
// so the docs cannot drift from the code. Each block is written as a module under .scratch/ inside
// the repo (so `import ... from "errdefer"` resolves through the package's self-reference and its
// `source` condition to src/), and all of them are checked in one program with the repo's
// compiler options. A block may declare the reader's own helpers with `declare function ...`.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docFiles, fencedBlocks, readDoc, root, type Block } from "./markdown.js";

const isTs = (b: Block): boolean => b.lang === "ts" || b.lang === "typescript";

/** The repo's compiler options (strict, exactOptionalPropertyTypes, the `source` condition...). */
function compilerOptions(): ts.CompilerOptions {
  const configPath = path.join(root, "tsconfig.json");
  const { config, error } = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configPath);
  return { ...parsed.options, noEmit: true, declaration: false, sourceMap: false };
}

/** Type-checks blocks in one program; returns the diagnostics of each block, by index. */
function check(blocks: readonly Block[], dir: string): string[][] {
  mkdirSync(dir, { recursive: true });
  const names = blocks.map((b, i) => {
    const name = path.join(dir, `${b.file.replace(/[^A-Za-z0-9]+/g, "-")}-${b.number}-${i}.ts`);
    // `export {}` keeps each block a module of its own, whatever it contains.
    writeFileSync(name, `${b.code}\nexport {};\n`);
    return name;
  });
  const program = ts.createProgram(names, compilerOptions());
  const byFile = new Map(names.map((n, i) => [path.resolve(n), i]));
  const out: string[][] = blocks.map(() => []);
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => "\n",
  };
  for (const d of [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]) {
    for (const list of out) list.push(ts.formatDiagnostic(d, host));
  }
  for (const [i, name] of names.entries()) {
    const source = program.getSourceFile(name);
    if (source === undefined) throw new Error(`the program lost ${name}`);
    for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
      const index = d.file === undefined ? i : byFile.get(path.resolve(d.file.fileName));
      if (index === undefined) continue;
      const b = blocks[index]!;
      const at =
        d.file !== undefined && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      // The block's first line is the line after its fence.
      const where = at === undefined ? b.file : `${b.file}:${b.line + 1 + at.line}:${at.character + 1}`;
      out[index]!.push(`${where}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    }
  }
  return out;
}

describe("the docs' code blocks", () => {
  const dir = path.join(root, ".scratch", `docs-code-blocks-${process.pid}`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const blocks = docFiles().flatMap((f) => fencedBlocks(f, readDoc(f)));
  const tsBlocks = blocks.filter(isTs);
  // A deliberately broken block, checked in the same program: proves a bad block fails the test.
  const broken: Block = { file: "(self-test)", number: 1, lang: "ts", line: 1, code: 'const n: number = "one";' };
  let results: string[][] = [];
  // One program for every block: a few seconds, most of it loading src/ and @types/node.
  beforeAll(() => {
    results = check([...tsBlocks, broken], dir);
  }, 120_000);

  it("finds ts blocks in the README, in docs/ and in the runner's README", () => {
    const files = new Set(tsBlocks.map((b) => b.file));
    expect(files).toContain("README.md");
    expect(files).toContain("docs/api.md");
    expect(files).toContain("docs/netns.md");
  });

  it("says the language of every fenced block (an untagged block would escape the check)", () => {
    const untagged = blocks.filter((b) => b.lang === "").map((b) => `${b.file}:${b.line} (block ${b.number})`);
    expect(untagged).toEqual([]);
  });

  it("reports a broken block with its file, block number and the compiler's message", () => {
    const diagnostics = results[tsBlocks.length]!;
    expect(diagnostics.join("\n")).toMatch(/^\(self-test\):2:7: Type 'string' is not assignable to type 'number'/);
  });

  it("type-checks every ts block under the repo's compiler options", () => {
    const failures = tsBlocks.flatMap((b, i) => {
      const diagnostics = results[i]!;
      return diagnostics.length === 0
        ? []
        : [`${b.file} block ${b.number} (line ${b.line}):\n  ${diagnostics.join("\n  ")}`];
    });
    expect(failures, failures.join("\n\n")).toEqual([]);
  });
});
