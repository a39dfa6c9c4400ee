// A journal writer for test/journal/pid-namespaces.root.test.ts, started by the test in a PID
// namespace of its own (`unshare --pid --fork --mount-proc`, so that it is PID 1 there): a saga
// that acquires one resource into a FileJournal in argv[2], then holds until it is killed. Once
// the resource's intent is on disk it prints one JSON line: its pid and its segment's file.
// Public API only, so that the test runs against any version of the journal.
import path from "node:path";
import { ok } from "neverthrow";
import { saga, type ResourceAdapter } from "../../src/index.js";
import { FileJournal } from "../../src/journal/index.js";

type Desc = { readonly [key: string]: string | boolean; readonly id: string; readonly acquired: boolean };
// As test/support/journal.ts's fakeAdapter describes its resources (that module needs vitest).
const fake: ResourceAdapter<{ id: string }, Desc, Desc, Error> = {
  kind: "fake",
  plan: (spec) => ({ id: spec.id, acquired: false }),
  acquire: (plan) => ok({ id: plan.id, acquired: true }),
  describe: (r) => r,
  release: () => ok(undefined),
};

const journal = new FileJournal(process.argv[2]!);
setInterval(() => undefined, 1 << 30); // alive until killed
await saga("sidecar")
  .resource("a", fake, { spec: () => ({ id: "sidecar-a" }) })
  .step("hold", {
    run: async () => {
      await journal.flush();
      process.stdout.write(`${JSON.stringify({ pid: process.pid, segment: path.basename(journal.segmentPath) })}\n`);
      return new Promise<never>(() => undefined).then(() => ok(undefined));
    },
  })
  .run(undefined, { journal });
