// Security review, c: no command is ever built as a shell string. A scan of src/ and examples/
// for the ways to get a shell from Node (shell: options, child_process exec/execSync, execa's
// command-string and script forms, `sh -c`), and the runner's exec passing shell metacharacters
// through literally.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spawnRunner } from "errdefer/host";
import { removeWorkDirs, repoRoot, workDir } from "./support.js";

afterAll(removeWorkDirs);

/** The bundled CLI (npm run build:cli): build output holding node_modules' code, scanned in its sources. */
const bundleDir = path.join("sandbox-runner", "bin") + path.sep;

/** Source files (TypeScript and JavaScript) under `dir`. */
function sources(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .map(String)
    .filter((f) => /\.(ts|mts|cts|js|mjs|cjs)$/.test(f) && !f.split(path.sep).includes("node_modules"))
    .filter((f) => !f.startsWith(bundleDir))
    .map((f) => path.join(dir, f));
}

/** The text with comments blanked out (strings kept), so prose about shells is not flagged. */
function withoutComments(text: string): string {
  return text.replace(
    /("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g,
    (m, str: string | undefined) => (str !== undefined ? m : m.replace(/[^\n]/g, " ")),
  );
}

/** The ways this scan knows to run a command through a shell. */
const rules: { readonly name: string; readonly test: (code: string) => RegExpExecArray | null }[] = [
  { name: "a shell option (spawn/execFile/execa { shell: ... })", test: (c) => /\bshell\s*:/.exec(c) },
  {
    name: "exec / execSync imported from child_process",
    test: (c) => /import\s*\{[^}]*\b(exec|execSync)\b[^}]*\}\s*from\s*["'](node:)?child_process["']/.exec(c),
  },
  {
    name: "child_process.exec / execSync called on the module",
    test: (c) => /\b(child_process|cp|childProcess)\s*\.\s*(exec|execSync)\s*\(/.exec(c),
  },
  {
    name: "require('child_process').exec",
    test: (c) => /require\(\s*["'](node:)?child_process["']\s*\)\s*\.\s*(exec|execSync)\b/.exec(c),
  },
  {
    name: "execa's command-string or script forms",
    test: (c) =>
      /\b(execaCommand|execaCommandSync|execaScript)\b|import\s*\{[^}]*\$[^}]*\}\s*from\s*["']execa["']/.exec(c),
  },
  { name: "sh -c / bash -c in a string", test: (c) => /\b(ba|da|z)?sh\s+-c\b/.exec(c) },
  {
    name: 'a shell and "-c" in an argv',
    test: (c) => /["'`](\/bin\/|\/usr\/bin\/)?(ba|da|z)?sh["'`]\s*,\s*\[?\s*["'`]-c["'`]/.exec(c),
  },
];

function findings(file: string, text: string): string[] {
  const code = withoutComments(text);
  const found: string[] = [];
  for (const rule of rules) {
    const m = rule.test(code);
    if (m !== null) {
      const line = code.slice(0, m.index).split("\n").length;
      found.push(`${path.relative(repoRoot, file)}:${line}: ${rule.name}: ${m[0].trim()}`);
    }
  }
  return found;
}

describe("c. no shell strings", () => {
  it("the scan catches each way of asking for a shell (and not prose or regexps)", () => {
    const bad = [
      'spawn("ip", args, { shell: true });',
      'execFile(file, args, {shell : "/bin/bash"})',
      'import { spawn, exec } from "node:child_process";',
      "import {execSync} from 'child_process'",
      "child_process.exec(`ip netns add ${name}`)",
      'require("child_process").execSync("ls")',
      'import { execaCommand } from "execa";',
      'import { $ } from "execa";',
      'const argv = ["sh", "-c", script];',
      'spawn("/bin/bash", ["-c", cmd])',
      "run(`bash -c '${cmd}'`)",
    ];
    for (const b of bad) expect(findings("x.ts", b), b).not.toEqual([]);
    const fine = [
      "// never a shell: shell: true is what we avoid, as is sh -c",
      "/* child_process.exec( */",
      'import { spawn, execFile } from "node:child_process";',
      "const m = /^a$/.exec(name);",
      'spawn("ip", ["netns", "add", name]);',
      'exec({ argv: [runc, "--root", root] });',
    ];
    for (const f of fine) expect(findings("x.ts", f), f).toEqual([]);
  });

  it("src/ and examples/ build no command as a shell string", () => {
    const files = ["src", "examples"].flatMap((d) => sources(path.join(repoRoot, d)));
    expect(files.length).toBeGreaterThan(30);
    expect(files.flatMap((f) => findings(f, readFileSync(f, "utf8")))).toEqual([]);
  });

  it("the runner's exec passes shell metacharacters to the program literally", async () => {
    const work = workDir("shell");
    const canary = (n: number) => path.join(work, `pwned-${n}`);
    const args = [
      `$(touch ${canary(1)})`,
      `; touch ${canary(2)}`,
      `\`touch ${canary(3)}\``,
      `| touch ${canary(4)}`,
      `&& touch ${canary(5)}`,
      `\n touch ${canary(6)}`,
      "$HOME",
      "*",
      "'\"",
    ];
    const exec = spawnRunner();
    const r = (await exec.run(["/bin/echo", ...args]))._unsafeUnwrap();
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`${args.join(" ")}\n`);
    for (let n = 1; n <= 6; n++) expect(existsSync(canary(n)), `${canary(n)} was created: a shell ran`).toBe(false);
    // And through env and stdin, which a shell would also expand if it were in the way.
    const e = (await exec.run(["/usr/bin/env"], { env: { X_SEC: `$(touch ${canary(7)})` } }))._unsafeUnwrap();
    expect(e.stdout.split("\n")).toContain(`X_SEC=$(touch ${canary(7)})`);
    const c = (await exec.run(["/bin/cat"], { input: `$(touch ${canary(8)})` }))._unsafeUnwrap();
    expect(c.stdout).toBe(`$(touch ${canary(8)})`);
    expect(existsSync(canary(7)) || existsSync(canary(8))).toBe(false);
  });
});
