// Reading the project's Markdown for the docs tests: which files, their fenced code blocks, their
// relative links and the anchors their headings get on GitHub.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The Markdown files the docs tests read, relative to the repo root. */
export function docFiles(): string[] {
  const docs = readdirSync(path.join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`);
  return ["README.md", ...docs, "examples/sandbox-runner/README.md"];
}

export function readDoc(file: string): string {
  return readFileSync(path.join(root, file), "utf8");
}

export interface Block {
  /** The Markdown file, relative to the repo root. */
  readonly file: string;
  /** 1-based, counting every fenced block of the file. */
  readonly number: number;
  /** The fence's info string: `ts`, `sh`, `go`, ... (empty when it has none). */
  readonly lang: string;
  /** The 1-based line of the opening fence. */
  readonly line: number;
  readonly code: string;
}

const fenceOpen = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/;

/** The fenced code blocks of a Markdown text, in order. */
export function fencedBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = fenceOpen.exec(lines[i]!);
    if (open === null) continue;
    const fence = open[1]!;
    const close = new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`);
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !close.test(lines[i]!); i++) body.push(lines[i]!);
    blocks.push({ file, number: blocks.length + 1, lang: open[2]!, line: start + 1, code: body.join("\n") });
  }
  return blocks;
}

/** The text outside fenced code blocks and inline code spans, line by line (1-based). */
function proseLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = fenceOpen.exec(lines[i]!);
    if (open !== null) {
      const fence = open[1]!;
      const close = new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`);
      for (i++; i < lines.length && !close.test(lines[i]!); i++);
      continue;
    }
    out.push({ line: i + 1, text: lines[i]!.replace(/`[^`]*`/g, "") });
  }
  return out;
}

export interface Link {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

/** The relative links (`[text](target)`) of a Markdown text; web and mail links are left out. */
export function relativeLinks(file: string, text: string): Link[] {
  return proseLines(text).flatMap(({ line, text }) =>
    [...text.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((m) => m[1]!)
      .filter((target) => !/^[a-z]+:/i.test(target))
      .map((target) => ({ file, line, target })),
  );
}

/** The anchors GitHub gives a Markdown text's headings (`## The rules in short` -> `the-rules-in-short`). */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { text: line } of proseLinesKeepingCode(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const slug = heading[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Like proseLines, but headings keep their code spans (GitHub keeps their text in the anchor). */
function proseLinesKeepingCode(text: string): { line: number; text: string }[] {
  const lines = text.split("\n");
  const kept = new Set(proseLines(text).map((p) => p.line));
  return lines.flatMap((t, i) => (kept.has(i + 1) ? [{ line: i + 1, text: t }] : []));
}
