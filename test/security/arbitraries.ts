// fast-check arbitraries for hostile pod configs: random JSON, wrong types at every field, huge and
// unicode strings, path tricks (`../`, `/`, `..`), NUL bytes and control characters.
import fc from "fast-check";

// eslint-disable-next-line no-control-regex
const hasControl = (s: string): boolean => /[\u0000-\u001f\u007f]/.test(s);

/** Strings that have broken path handling, shells and terminals somewhere. */
export const nastyStrings: readonly string[] = [
  "",
  ".",
  "..",
  "/",
  "../",
  "../../etc/passwd",
  "/etc/passwd",
  "a/../../b",
  "./.",
  "web/..",
  "..\\..\\windows",
  "%2e%2e%2f",
  "\0",
  "web\0",
  "a\0../../x",
  "\n",
  "web\nnamespace",
  "\r\n",
  "\t",
  "\u001b[31mred\u001b[0m",
  "\u007f",
  "\u202eevil",
  "\ufeff",
  "\ud800",
  "😀",
  "ünïcödé",
  "ＷＥＢ",
  "$(touch /tmp/pwned)",
  "`id`",
  "; rm -rf /",
  "| cat /etc/shadow",
  "-rf",
  "--help",
  "web",
  "default",
  "a".repeat(64),
  "__proto__",
  "constructor",
];

/** Strings of every kind: random (UTF-16, graphemes, binary), nasty, nasty glued to random, huge. */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string() },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme" }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary" }) },
  { weight: 4, arbitrary: fc.constantFrom(...nastyStrings) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...nastyStrings), fc.string({ maxLength: 8 }), fc.constantFrom(...nastyStrings))
      .map((p) => p.join("")),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom("a", "ü", "😀", ".", "/", "-"), fc.integer({ min: 60, max: 70_000 }))
      .map(([c, n]) => c.repeat(n)),
  },
);

/** Strings that pass for DNS labels, or nearly do. */
const labelish: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/),
  fc.constantFrom(
    "web",
    "default",
    "kube-system",
    "a",
    "0",
    "-a",
    "a-",
    "A",
    "a.b",
    "a_b",
    "a".repeat(63),
    "a".repeat(64),
  ),
);

/** A value of a type no field expects (or does, by chance). */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 2 ** 32, 2 ** 53, 1.5, Number.MAX_VALUE),
  anyString,
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(anyString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

/** A field: usually a plausible value, often a wrong one, sometimes missing. */
function field<T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: good },
    { weight: 2, arbitrary: wrongType },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

const pathish: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "/var/log/pods/x",
    "/",
    "/tmp/../etc",
    "/a/./b",
    "relative/dir",
    "../x",
    "/a/..",
    "/a\0b",
    "/a\nb",
    "/ü/😀",
  ),
  anyString,
);

const network: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom("POD", "NODE", 0, 2, 1, "pod", "CONTAINER", -1, 2.5),
  wrongType,
);

const stringMap: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(anyString, anyString, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(anyString, wrongType, { maxKeys: 3 }) },
  { weight: 1, arbitrary: wrongType },
);

/** A CRI PodSandboxConfig with every field plausible, wrong, hostile or missing. */
export const podConfigish: fc.Arbitrary<unknown> = fc.record(
  {
    metadata: fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record(
          {
            name: field(labelish),
            namespace: field(labelish),
            uid: field(anyString),
            attempt: field(fc.integer({ min: -2, max: 2 ** 32 })),
          },
          { requiredKeys: [] },
        ),
      },
      { weight: 1, arbitrary: wrongType },
    ),
    hostname: field(
      fc.oneof(labelish, anyString, fc.constantFrom("a.b.c", "web.default", ".", "a..b", "a".repeat(64))),
    ),
    log_directory: field(pathish),
    dns_config: field(
      fc.record(
        {
          servers: field(
            fc.array(fc.oneof(fc.constantFrom("8.8.8.8", "::1", "1.2.3.4.5", "localhost"), anyString, wrongType), {
              maxLength: 4,
            }),
          ),
          searches: field(fc.array(fc.oneof(anyString, wrongType), { maxLength: 3 })),
          options: field(fc.array(fc.oneof(anyString, wrongType), { maxLength: 3 })),
        },
        { requiredKeys: [] },
      ),
    ),
    labels: stringMap,
    annotations: stringMap,
    linux: field(
      fc.record(
        {
          security_context: field(
            fc.record(
              { namespace_options: field(fc.record({ network: field(network) }, { requiredKeys: [] })) },
              { requiredKeys: [] },
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);

/** Any input at all: random JSON, any JS value, or a hostile pod config. */
export const anyPodInput: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue() },
  { weight: 1, arbitrary: fc.anything() },
  { weight: 6, arbitrary: podConfigish },
);

/**
 * Configs that are valid but hostile where the parser lets text through: uids with path tricks,
 * unicode and huge labels and annotations, dotted hostnames, either network mode. They must run.
 */
export const validHostileConfig: fc.Arbitrary<Record<string, unknown>> = fc.record({
  metadata: fc.record({
    name: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/),
    namespace: fc.constantFrom("default", "kube-system", "a"),
    uid: fc.constantFrom(
      "../../../../etc/passwd",
      "/../../../canary",
      "..",
      "ü😀/..\\",
      "$(touch /tmp/pwned)",
      "x".repeat(128),
    ),
    attempt: fc.integer({ min: 0, max: 3 }),
  }),
  hostname: fc.constantFrom("web", "a.b.c", "x-1.default"),
  // Not implemented by the runner: accepted only empty.
  log_directory: fc.constantFrom("", undefined),
  labels: fc.dictionary(
    fc.constantFrom("app", "../../x", "ü😀", "a/b", "$(id)"),
    fc.oneof(
      fc.constantFrom("../../../etc", "😀", "`id`"),
      fc.string({ unit: "grapheme", maxLength: 20 }).filter((s) => !hasControl(s)),
    ),
    { maxKeys: 3 },
  ),
  annotations: fc.constantFrom({}, { big: "a".repeat(60_000) }, { ü: "/etc/shadow" }),
  linux: fc.constantFrom(
    {},
    { security_context: { namespace_options: { network: "POD" } } },
    { security_context: { namespace_options: { network: 2 } } },
  ),
});
