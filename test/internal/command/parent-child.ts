// A parent for the die-with-parent tests: starts one command through a runner, then idles until it
// is killed. argv: RUNNER (spawn|execa) HOW (run|start|run-default) DIE (yes|no) COMMAND...
// `run-default` gives dieWithParent to the runner (its default) rather than to the call.
import { execaRunner } from "../../../src/internal/command/execa-runner.js";
import { spawnRunner } from "../../../src/internal/command/spawn-runner.js";
import type { Argv } from "../../../src/internal/command/types.js";

const [which, how, die, ...command] = process.argv.slice(2);
const dieWithParent = die === "yes";
const make = which === "execa" ? execaRunner : spawnRunner;
const argv = command as unknown as Argv;
if (how === "start") make({ dieWithParent }).start(argv);
else if (how === "run-default") void make({ dieWithParent }).run(argv);
else void make().run(argv, { dieWithParent });
setInterval(() => undefined, 60_000);
