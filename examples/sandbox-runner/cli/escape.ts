// What the CLI may put on a terminal: the one owner of that decision. Every line it prints (stdout,
// stderr, progress) passes through terminalSafe, so a uid, label, name, path or error message that
// holds an escape sequence or a bidi override is shown escaped, never interpreted.

/**
 * Controls (C0, DEL, C1), format characters (bidi embeddings, overrides and isolates, LRM/RLM, ALM,
 * zero-width ones), line and paragraph separators, and lone surrogates.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

const SHORT: Readonly<Record<string, string>> = { "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r" };

const unit = (code: number): string => `\\u${code.toString(16).padStart(4, "0")}`;

/**
 * `line` with every unsafe character escaped as JSON escapes it (`\n`, `\u001b`, `\u202e`; a
 * character beyond U+FFFF as its two UTF-16 units). JSON stays JSON: these characters only ever
 * appear inside its strings, where the escape means the same character. Idempotent: what it returns
 * has nothing left to escape.
 */
export function terminalSafe(line: string): string {
  return line.replace(
    UNSAFE,
    (c) => SHORT[c] ?? Array.from({ length: c.length }, (_, i) => unit(c.charCodeAt(i))).join(""),
  );
}

/** A writer of one line to `stream`, escaped: multi-line output is written line by line. */
export function lineWriter(stream: { write(text: string): unknown }): (line: string) => void {
  return (line) => void stream.write(`${terminalSafe(line)}\n`);
}
