// The compiler's own report for a body that returns no Result: one diagnostic that says what to
// write, not TS2769's three overloads. The type tests (types.test-d.ts) only see that an error is
// there; this reads what the compiler prints, as a user would.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const mistakes = {
  "a plain value": ["() => 42", "the body must return a Result: wrap the value in ok(...)"],
  "a Promise of a plain value": [
    "async () => ({ id: 1 })",
    "an async body must resolve to a Result: wrap the value in ok(...)",
  ],
  "no return": [
    "(tx) => { tx.defer(() => undefined); }",
    "the body must return a Result: return ok(value), or ok(undefined) when there is none",
  ],
  "no return in an async body": [
    "async (tx) => { await Promise.resolve(); tx.defer(() => undefined); }",
    "an async body must resolve to a Result: return ok(value), or ok(undefined) when there is none",
  ],
} as const;

function compilerOptions(): ts.CompilerOptions {
  const configPath = path.join(root, "tsconfig.json");
  const { config } = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p)) as { config: unknown };
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configPath);
  return { ...parsed.options, noEmit: true, declaration: false, sourceMap: false };
}

describe("a body that returns no Result, as the compiler reports it", () => {
  const dir = path.join(root, ".scratch", `body-type-error-${process.pid}`);
  const diagnostics = new Map<string, { code: number; text: string }[]>();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(() => {
    mkdirSync(dir, { recursive: true });
    const files = Object.entries(mistakes).map(([what, [body]], i) => {
      const file = path.join(dir, `mistake-${i}.ts`);
      const lib = path.relative(dir, path.join(root, "src/index.js"));
      writeFileSync(file, `import { transaction } from "${lib}";\nvoid transaction(${body});\n`);
      return [what, file] as const;
    });
    const program = ts.createProgram(
      files.map(([, f]) => f),
      compilerOptions(),
    );
    for (const [what, file] of files) {
      const source = program.getSourceFile(file)!;
      diagnostics.set(
        what,
        [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => ({
          code: d.code,
          text: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
        })),
      );
    }
  }, 120_000);

  for (const [what, [, fix]] of Object.entries(mistakes)) {
    it(`${what}: one error, which names the fix`, () => {
      const found = diagnostics.get(what) ?? [];
      expect(found.map((d) => d.code)).not.toContain(2769); // "No overload matches this call"
      expect(found).toHaveLength(1);
      expect(found[0]!.text).toContain(fix);
    });
  }
});
