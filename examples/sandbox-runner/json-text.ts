// JSON text the runner reads (a pod config, a conflist, a record), parsed with an error that names
// where the text stops being JSON and quotes none of it: JSON.parse's own message quotes the start
// of the text, and root may read any file a symlink points to (/etc/shadow).
import { err, ok, type Result } from "neverthrow";

/** Where a text stops being JSON: 1-based line and column (in UTF-16 code units). */
export class JsonSyntaxError extends Error {
  override readonly name = "JsonSyntaxError";
  constructor(
    readonly line: number,
    readonly column: number,
  ) {
    super(`not valid JSON at line ${line}, column ${column}`);
  }
}

/** `text` parsed; when it is not JSON, an error naming the position and nothing of the text. */
export function parseJson(text: string): Result<unknown, JsonSyntaxError> {
  try {
    return ok(JSON.parse(text) as unknown);
  } catch {
    const offset = jsonErrorOffset(text);
    const before = text.slice(0, offset);
    const line = before.split("\n").length;
    return err(new JsonSyntaxError(line, offset - before.lastIndexOf("\n")));
  }
}

/** Thrown inside the scanner with the offset of the first character that is not JSON. */
class Stop {
  constructor(readonly at: number) {}
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

/** A cursor over JSON text; each method consumes one token or throws Stop where it is not JSON. */
class Scanner {
  i = 0;
  constructor(readonly text: string) {}

  skipSpace(): void {
    while (this.i < this.text.length && " \t\n\r".includes(this.text[this.i]!)) this.i++;
  }

  string(): void {
    const { text } = this;
    if (text[this.i] !== '"') throw new Stop(this.i);
    this.i++;
    for (;;) {
      const c = text[this.i];
      if (c === undefined || c < " ") throw new Stop(this.i);
      if (c === '"') return void this.i++;
      if (c !== "\\") this.i++;
      else {
        ESCAPE.lastIndex = this.i;
        if (!ESCAPE.test(text)) throw new Stop(this.i + 1);
        this.i = ESCAPE.lastIndex;
      }
    }
  }

  scalar(): void {
    const { text } = this;
    if (text[this.i] === '"') return this.string();
    for (const word of ["true", "false", "null"])
      if (text.startsWith(word, this.i)) return void (this.i += word.length);
    NUMBER.lastIndex = this.i;
    if (!NUMBER.test(text)) throw new Stop(this.i);
    this.i = NUMBER.lastIndex;
  }
}

/**
 * The offset of the first character of `text` that makes it invalid JSON (its length when it ends
 * too early). Iterative, so that deep nesting cannot overflow the stack; run only after JSON.parse
 * has failed, to say where.
 */
export function jsonErrorOffset(text: string): number {
  const s = new Scanner(text);
  const open: ("{" | "[")[] = [];
  // What comes next: a value, a key, or what follows a value; `first`: right after `{` or `[`.
  let expect: "value" | "key" | "after" = "value";
  let first = false;
  try {
    for (;;) {
      s.skipSpace();
      const c = text[s.i];
      const top = open.at(-1);
      if (first && c === (top === "{" ? "}" : "]")) {
        s.i++;
        open.pop();
        [expect, first] = ["after", false];
      } else if (expect === "after") {
        if (top === undefined) return s.i;
        if (c === ",") [expect, first] = [top === "{" ? "key" : "value", false];
        else if (c === (top === "{" ? "}" : "]")) open.pop();
        else throw new Stop(s.i);
        s.i++;
      } else if (expect === "key") {
        s.string();
        s.skipSpace();
        if (text[s.i] !== ":") throw new Stop(s.i);
        [expect, first] = ["value", false];
        s.i++;
      } else if (c === "{" || c === "[") {
        open.push(c);
        [expect, first] = [c === "{" ? "key" : "value", true];
        s.i++;
      } else {
        s.scalar();
        [expect, first] = ["after", false];
      }
    }
  } catch (e) {
    if (e instanceof Stop) return e.at;
    throw e;
  }
}
