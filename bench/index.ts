// `npm run bench`: every table, each as ratios to a floor or peer measured in this same run.
// `npm run bench -- engine` (or netns, ...) runs one table.
import { parseArgs } from "node:util";

const tables: Record<string, () => Promise<{ run(options: { json?: boolean }): Promise<void> }>> = {
  command: () => import("./command.js"),
  engine: () => import("./engine.js"),
  netns: () => import("./netns.js"),
  saga: () => import("./saga.js"),
  sandbox: () => import("./sandbox.js"),
};

// --json: the tables that support it (sandbox) print one JSON object on stdout.
const { positionals, values } = parseArgs({
  allowPositionals: true,
  strict: true,
  options: { json: { type: "boolean" } },
});
const chosen = positionals.length > 0 ? positionals : Object.keys(tables);
for (const name of chosen) {
  const load = tables[name];
  if (load === undefined) {
    console.error(`unknown bench table "${name}"; known: ${Object.keys(tables).join(", ")}`);
    process.exit(2);
  }
  await (await load()).run({ json: values.json === true });
}
