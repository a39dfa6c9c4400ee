import { defineConfig } from "vitest/config";

// "source": the example imports errdefer by its package name; in this repo that resolves to src/.
const conditions = ["source", "node", "import", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    typecheck: { enabled: true, include: ["test/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
    // A hang detector, not a timing check: the root suites start many CLI processes at once, and a
    // loaded 2-core machine has taken over 30 s for one of them.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
