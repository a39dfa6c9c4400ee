// The CLI's terminal escaping and the JSON error positions (issue 15, item 11): no byte of the
// text in a JSON error; every control and format character escaped, JSON kept JSON.
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { terminalSafe } from "../../examples/sandbox-runner/cli/escape.js";
import { jsonErrorOffset, parseJson } from "../../examples/sandbox-runner/json-text.js";

describe("parseJson", () => {
  it.each([
    ["root:$6$SECRET:19000::::::", 1, 1],
    ['{\n  "metadata": {"name": "web", SECRET', 2, 31],
    ["[1,]", 1, 4],
    ['{"a":1}}', 1, 8],
    ['{"a": "\\x"}', 1, 9],
    ['{"a"', 1, 5],
    ["", 1, 1],
    ["[[[[", 1, 5],
    ['{"a":01}', 1, 7],
    ['"\u0001"', 1, 2],
  ])("%j: line %i, column %i, and none of the text", (text, line, column) => {
    const r = parseJson(text);
    expect(r.isErr() && r.error.message).toBe(`not valid JSON at line ${line}, column ${column}`);
  });

  test.prop([fc.jsonValue(), fc.integer({ min: 0, max: 4 })])("agrees with JSON.parse on valid text", (v, indent) => {
    const text = JSON.stringify(v, null, indent);
    expect(jsonErrorOffset(text)).toBe(text.length);
    expect(parseJson(text).isOk()).toBe(true);
  });

  test.prop([fc.jsonValue(), fc.nat()])("places a cut-short text's error at or before the cut", (v, n) => {
    const text = JSON.stringify(v);
    const cut = text.slice(0, n % (text.length + 1));
    let valid = true;
    try {
      JSON.parse(cut);
    } catch {
      valid = false;
    }
    if (!valid) expect(jsonErrorOffset(cut)).toBeLessThanOrEqual(cut.length);
    expect(parseJson(cut).isOk()).toBe(valid);
  });

  it("survives deep nesting", () => {
    expect(jsonErrorOffset("[".repeat(200_000))).toBe(200_000);
  });
});

describe("terminalSafe", () => {
  it("escapes C0, DEL, C1, bidi and other format characters, and line separators", () => {
    const raw = "a\u001b[2J\u0007\u007f\u009b\u202a\u202e\u2066\u2069\u200e\u200f\u061c\u2028\n\t\u{e0001}";
    expect(terminalSafe(raw)).toBe(
      "a\\u001b[2J\\u0007\\u007f\\u009b\\u202a\\u202e\\u2066\\u2069\\u200e\\u200f\\u061c\\u2028\\n\\t\\udb40\\udc01",
    );
    expect(terminalSafe("plain ✔ ↩ ⏸ é 漢")).toBe("plain ✔ ↩ ⏸ é 漢");
  });

  test.prop([fc.jsonValue()])("keeps JSON JSON, meaning the same", (v) => {
    const text = JSON.stringify(v);
    const safe = terminalSafe(text);
    expect(/[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u.test(safe)).toBe(false);
    expect(JSON.parse(safe)).toEqual(JSON.parse(text));
  });

  test.prop([fc.string({ unit: "binary" })])("is idempotent (a table escapes its cells first to line them up)", (t) => {
    expect(terminalSafe(terminalSafe(t))).toBe(terminalSafe(t));
  });
});
