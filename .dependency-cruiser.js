// Import rules for src/ and examples/, checked by `npm run lint` (depcruise). The layers, bottom up:
//
//   internal -> engine -> journal | resources -> saga -> netns
//
// A module imports only from its own layer or a lower one. journal and resources sit side by side
// and neither imports the other: the journal is storage only (records, Journal, FileJournal,
// MemoryJournal), and resources describe how to release a thing, not how it is recorded; the saga
// layer is where the two meet. The entry points (src/index.ts, src/<layer>/index.ts, src/host/**)
// only re-export, from any layer; nothing inside src imports them. docs/architecture.md has the
// picture; change both together.

const entryPoints = ["^src/index[.]ts$", "^src/[^/]+/index[.]ts$", "^src/host/"];

// What each layer may import inside src, besides itself. A layer not listed here (a new folder)
// may import only src/internal until it is given a place.
const layers = {
  internal: [],
  engine: ["internal"],
  journal: ["internal"],
  resources: ["internal", "engine"],
  saga: ["internal", "engine", "journal", "resources"],
  netns: ["internal", "engine", "journal", "resources", "saga"],
};

/** One rule per layer: from a non-entry module of the layer to any src module outside what it may use. */
function layerRule([layer, below]) {
  const allowed = [layer, ...below].join("|");
  return {
    name: `layer-${layer}`,
    severity: "error",
    comment:
      below.length === 0
        ? `src/${layer} is the bottom layer: it imports nothing else of src.`
        : `src/${layer} may import only from src/{${below.join(",")}} and itself; an import upward is a design bug.`,
    from: { path: `^src/${layer}/`, pathNot: entryPoints },
    to: { path: "^src/", pathNot: `^src/(${allowed})/` },
  };
}

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "No import cycle anywhere in src/ or examples/ (type-only imports count too).",
      from: { path: "^(src|examples)/" },
      to: { circular: true },
    },
    ...Object.entries(layers).map(layerRule),
    {
      name: "layer-unknown",
      severity: "error",
      comment:
        "A src module outside the known layers and entry points: give its folder a place in .dependency-cruiser.js.",
      from: {
        path: "^src/",
        pathNot: [...entryPoints, `^src/(${Object.keys(layers).join("|")})/`],
      },
      to: { path: "^src/", pathNot: "^src/internal/" },
    },
    {
      name: "no-importing-entry-points",
      severity: "error",
      comment:
        "Entry points (src/index.ts, src/*/index.ts, src/host/**) are for users; a module inside src imports the module that defines the thing, never a barrel.",
      from: { path: "^src/", pathNot: entryPoints },
      to: { path: entryPoints },
    },
    {
      name: "entry-points-re-export-only",
      severity: "error",
      comment: "Entry points hold re-exports only (`export ... from`), so they add no code and no side effects.",
      from: { path: entryPoints },
      to: { dependencyTypesNot: ["export"] },
    },
    {
      name: "src-not-to-outside",
      severity: "error",
      comment: "The library does not depend on its example, tests, benchmarks, scripts or build output.",
      from: { path: "^src/" },
      to: { path: "^(examples|test|bench|scripts|dist|[.]bench-dist)/" },
    },
    {
      name: "src-not-to-dev-dependencies",
      severity: "error",
      comment:
        "src/ ships to users: it may import only node built-ins, the package's own dependencies and its peer (neverthrow, also a devDependency for the tests).",
      from: { path: "^src/" },
      to: {
        dependencyTypes: ["npm-dev", "npm-no-pkg", "npm-unknown", "npm-optional"],
        dependencyTypesNot: ["npm-peer"],
      },
    },
    {
      name: "src-peer-only-neverthrow",
      severity: "error",
      comment: "neverthrow is the one peer: its Result types are our public types, so the app must share its copy.",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-peer"], pathNot: "(^|/)node_modules/neverthrow/" },
    },
    {
      name: "examples-by-package-name",
      severity: "error",
      comment:
        "The example is built against the published package: it imports errdefer, errdefer/journal, errdefer/netns, errdefer/host by name, never src/ by path.",
      from: { path: "^examples/" },
      to: {
        path: "^src/",
        dependencyTypes: [
          "local",
          "localmodule",
          "aliased",
          "aliased-subpath-import",
          "aliased-tsconfig",
          "aliased-tsconfig-base-url",
          "aliased-tsconfig-paths",
          "aliased-webpack",
          "aliased-workspace",
        ],
      },
    },
    {
      name: "examples-public-api-only",
      severity: "error",
      comment: "The example may reach src/ only through the package's entry points.",
      from: { path: "^examples/" },
      to: { path: "^src/", pathNot: entryPoints },
    },
    {
      name: "examples-resolve-to-source",
      severity: "error",
      comment:
        'In this repo errdefer resolves through the "source" export condition to src/; an edge into dist/ means the resolver options below lost it.',
      from: { path: "^examples/" },
      to: { path: "^(dist|[.]bench-dist)/" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment:
        "An import the checker cannot resolve is an import no rule can see; fix the import or the resolver options below.",
      from: { path: "^(src|examples)/" },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // The bundled CLI (npm run build:cli): one generated file holding every module it imports.
    exclude: { path: "^examples/sandbox-runner/bin/" },
    // Build output is a leaf, not excluded, so that examples-resolve-to-source can see an edge to it.
    doNotFollow: { path: ["node_modules", "^dist/", "^[.]bench-dist/"] },
    // Type-only imports are edges too: a cycle through types is still a cycle for a reader.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      // As tsconfig's customConditions: "errdefer/netns" from the example resolves to
      // src/netns/index.ts through package.json's "source" export condition (a self-reference).
      exportsFields: ["exports"],
      conditionNames: ["source", "import", "node", "default", "types"],
      // With a tsConfig, depcruise maps "./x.js" to the "./x.ts" beside it (nodenext style);
      // not-to-unresolvable above fails the lint if that ever stops working.
      extensions: [".ts", ".js", ".d.ts"],
      mainFields: ["module", "main", "types", "typings"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
