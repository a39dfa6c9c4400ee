// The crash-test child: runs one saga (two real namespaces, two fake resources, a committed
// sibling saga) with a FileJournal, and SIGKILLs itself at the hook point named in its config.
// Everything the parent must know survives in the fake log (appended and fsynced line by line).
import { err, ok, ResultAsync } from "neverthrow";
import { releaseHeld, saga, type Held, type ResourceAdapter } from "../../src/index.js";
import { FileJournal, type Journal, type JournalRecord } from "../../src/journal/index.js";
import {
  createBatchDriver,
  execaRunner,
  netnsAdapter,
  type CommandRunner,
  type NetnsDescription,
  type Netns,
  type NetnsDriver,
  type NetnsError,
  type NetnsSpec,
} from "../../src/netns/index.js";
import { appendLog, fakeAdapter, type CrashConfig } from "./plan.js";

const config = JSON.parse(process.argv[2] ?? "") as CrashConfig;
const trace: string[] = [];

/** A hook point: dies here when the config names it (the parent checks the log says so). */
function hit(point: string): void {
  trace.push(point);
  if (point !== config.kill) return;
  appendLog(config.log, { ev: "killed", at: point });
  process.kill(process.pid, "SIGKILL");
}

const mark = (ev: string): void => appendLog(config.log, { ev });

// The journal: every append passes `before:` and `after:` points; `write:` dies inside the
// FileJournal's write of the batch that carries the record (group commit or not).
const roles = new Map<string, string>();
let appendedBytes = 0;
let writtenBytes = 0;
let armed: { label: string; end: number } | undefined;
const file = new FileJournal(config.journalDir, {
  groupCommit: config.groupCommit,
  beforeWrite: (bytes, target) => {
    // Compaction's copy of the segment is no record's write.
    if (target === "copy") return;
    if (armed !== undefined && writtenBytes < armed.end && armed.end <= writtenBytes + bytes) {
      const label = armed.label;
      armed = undefined;
      hit(label);
    }
    writtenBytes += bytes;
  },
});

function labelOf(r: JournalRecord): string | undefined {
  if (r.t === "begin")
    roles.set(r.tx, r.name === "crash-main" ? "main" : r.name === "release:crash-main" ? "stop" : "side");
  const role = roles.get(r.tx);
  if (role === undefined || role === "side") return undefined;
  return `${role}/${r.t}${"step" in r ? `:${r.step}` : ""}`;
}

const journal: Journal = {
  async append(record, durable) {
    const label = labelOf(record);
    appendedBytes += Buffer.byteLength(`${JSON.stringify(record)}\n`);
    if (label === undefined) return file.append(record, durable);
    hit(`before:${label}`);
    if (label === "main/commit") mark("commit-requested");
    if (config.kill === `write:${label}`) armed = { label: `write:${label}`, end: appendedBytes };
    await file.append(record, durable);
    if (label === "main/commit") mark("commit-durable");
    if (label === "stop/adopt") mark("stop-adopted");
    hit(`after:${label}`);
  },
  openRecovery: () => file.openRecovery(),
  close: () => file.close(),
};

// The netns adapter over a driver whose commands pass `acquire-cmd:` / `release-cmd:` points right
// after they are issued (the command itself runs on, in its own process).
const stepOfName = (name: string): string => (name.endsWith("a") ? "nsA" : "nsB");
const real = execaRunner();
const runner: CommandRunner = {
  run(argv, options) {
    const running = real.run(argv, options);
    const target = argv[0] === "unshare" ? argv[1]?.replace(/^--net=/, "") : argv[0] === "umount" ? argv[2] : undefined;
    if (target?.includes(config.prefix) === true)
      hit(`${argv[0] === "unshare" ? "acquire" : "release"}-cmd:${stepOfName(target)}`);
    return running;
  },
  start: (argv) => real.start(argv),
};
const batch = createBatchDriver({ runner });
const driver: NetnsDriver = {
  kind: batch.kind,
  runner,
  ip(args) {
    const outcome = batch.ip(args);
    const [, op, name] = args;
    if (name?.startsWith(config.prefix) === true)
      hit(`${op === "add" ? "acquire" : "release"}-cmd:${stepOfName(name)}`);
    return outcome;
  },
  close: () => batch.close(),
  [Symbol.asyncDispose]: () => batch.close(),
};
const inner = netnsAdapter({ driver, dirs: ["/var/run/netns", config.customDir], prefix: config.prefix });
// (netnsAdapter's operations return ResultAsyncs.)
const ns: typeof inner = {
  ...inner,
  acquire: (plan, ctx) =>
    new ResultAsync(
      (async () => {
        const step = stepOfName(plan.name);
        hit(`acquire-before:${step}`);
        const made = await (inner.acquire(plan, ctx) as ResultAsync<Netns, NetnsError>);
        hit(`acquire-after:${step}`);
        return made;
      })(),
    ),
  release: (desc: NetnsDescription, ctx) =>
    new ResultAsync(
      (async () => {
        const step = stepOfName(desc.name);
        hit(`release-before:${step}`);
        const released = await (inner.release(desc, ctx) as ResultAsync<void, NetnsError>);
        if (released.isOk()) hit(`release-after:${step}`);
        return released;
      })(),
    ),
};
const fake: ResourceAdapter<{ id: string }, { id: string }, { id: string }> = fakeAdapter(config.log, {
  hit,
  failAcquire: config.failAt === "fakeB" ? "fakeB" : undefined,
  failRelease: config.failRelease === "none" ? undefined : config.failRelease,
});

// A sibling saga that commits while the main one is live: recovery must leave it alone.
const side = saga("crash-side").resource("fakeS", fake, { spec: () => ({ id: `${config.runId}:fakeS` }) });
let sideHeld: Held | undefined;

const main = saga<{ readonly runId: string; readonly withB: boolean }>("crash-main")
  .step("tag", {
    run: async (ctx) => {
      const r = await side.run(undefined, { journal });
      if (r.isErr()) throw r.error;
      sideHeld = r.value.held;
      mark("side-committed");
      return ctx.input.runId;
    },
  })
  .resource("nsA", ns, { spec: (ctx): NetnsSpec => ({ name: `${config.prefix}${ctx.tag}a` }) })
  .resource("fakeA", fake, { spec: (ctx) => ({ id: `${ctx.tag}:fakeA` }) })
  .resource("nsB", ns, {
    spec: (ctx): NetnsSpec => ({ dir: config.customDir, name: `${config.prefix}${ctx.tag}b` }),
    guard: true,
    when: (ctx) => ctx.input.withB,
  })
  .resource("fakeB", fake, { spec: (ctx) => ({ id: `${ctx.tag}:fakeB` }), guard: true, registerFirst: true })
  .step("finish", {
    run: (ctx) => (config.failAt === "finish" ? err(new Error("injected step failure")) : ok(ctx.nsA.path)),
  });

const result = await main.run({ runId: config.runId, withB: config.withB }, { journal });
if (result.isOk() && config.stop) {
  mark("stop-begin");
  await releaseHeld(result.value.held, [ns, fake], { journal });
  mark("stop-done");
}
await journal.close();
mark("done");
process.stdout.write(`${JSON.stringify({ ok: result.isOk(), side: sideHeld !== undefined, trace })}\n`);
// Last: close() waits for the unref'd ip process to exit, and nothing else keeps node running then.
await batch.close();
