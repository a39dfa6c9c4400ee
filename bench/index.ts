// `npm run bench`: every table, each as ratios to a floor or peer measured in this same run.
// `npm run bench -- engine` (or netns, ...) runs one table. With `--json`, the tables go to stderr
// and stdout gets one JSON object: the chosen tables' summaries by name, or the one table's own
// summary when one is chosen (`npm run -s bench -- engine --json` for stdout without npm's banner).
import { Console } from "node:console";
import { parseArgs } from "node:util";

/** A table: prints itself; may return a summary of its ratios for `--json`. */
interface Table {
  run(): Promise<object | void>;
}

const tables: Record<string, () => Promise<Table>> = {
  command: () => import("./command.js"),
  cri: () => import("./cri.js"),
  engine: () => import("./engine.js"),
  netns: () => import("./netns.js"),
  saga: () => import("./saga.js"),
  sandbox: () => import("./sandbox.js"),
  startup: () => import("./startup.js"),
};

const { positionals, values } = parseArgs({
  allowPositionals: true,
  strict: true,
  options: { json: { type: "boolean", default: false } },
});
const chosen = positionals.length > 0 ? positionals : Object.keys(tables);
for (const name of chosen) {
  if (tables[name] === undefined) {
    console.error(`unknown bench table "${name}"; known: ${Object.keys(tables).join(", ")}`);
    process.exit(2);
  }
}
// In JSON mode everything a table prints (console.log, console.table) goes to stderr.
if (values.json) globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });
const summaries: Record<string, unknown> = {};
for (const name of chosen) {
  summaries[name] = (await (await tables[name]!()).run()) ?? null;
}
if (values.json) {
  process.stdout.write(`${JSON.stringify(chosen.length === 1 ? summaries[chosen[0]!] : summaries)}\n`);
}
