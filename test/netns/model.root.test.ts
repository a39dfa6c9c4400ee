// A fast-check model test on the real kernel: random create / remove / exec / sweep sequences.
import fc from "fast-check";
import { afterAll, expect, it } from "vitest";
import { createBatchDriver, createNetns, listNetns, loadNetns, sweepNetns } from "../../src/netns/index.js";
import { removeTestDir, testDir } from "../support/netns-dirs.js";
import { describeRoot } from "../support/root.js";
import { runPrefix } from "../support/run-prefix.js";

const prefix = `${runPrefix}m-`;
const customDir = testDir("model");
const dirs = ["/var/run/netns", customDir] as const;

/** The model: which namespace paths exist. */
type Model = { exists: Set<string> };
type Real = { driver: ReturnType<typeof createBatchDriver> };

const where = (dir: number, name: number) => ({
  dir: dirs[dir]!,
  name: `${prefix}${name}`,
  path: `${dirs[dir]!}/${prefix}${name}`,
});

async function expectListing(model: Model, real: Real, dir: string): Promise<void> {
  const listed = (await listNetns({ dir, prefix, driver: real.driver }))._unsafeUnwrap().map((n) => n.path);
  expect(listed).toEqual([...model.exists].filter((p) => p.startsWith(`${dir}/`)).sort());
}

class Create implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly dir: number,
    readonly name: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const w = where(this.dir, this.name);
    const result = await createNetns({ dir: w.dir, name: w.name, driver: real.driver });
    if (model.exists.has(w.path)) {
      expect(result._unsafeUnwrapErr().code).toBe("exists");
    } else {
      expect(result._unsafeUnwrap().path).toBe(w.path);
      model.exists.add(w.path);
    }
    await expectListing(model, real, w.dir);
  }
  toString = () => `create(${this.dir}, ${this.name})`;
}

class Remove implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly dir: number,
    readonly name: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const w = where(this.dir, this.name);
    const ns = loadNetns(w.path, { driver: real.driver })._unsafeUnwrap();
    (await ns.remove())._unsafeUnwrap();
    expect((await ns.isClosed())._unsafeUnwrap()).toBe(true);
    model.exists.delete(w.path);
    await expectListing(model, real, w.dir);
  }
  toString = () => `remove(${this.dir}, ${this.name})`;
}

class Exec implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly dir: number,
    readonly name: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const w = where(this.dir, this.name);
    const result = await loadNetns(w.path, { driver: real.driver })._unsafeUnwrap().exec(["ip", "-o", "link", "show"]);
    if (model.exists.has(w.path)) {
      const out = result._unsafeUnwrap();
      expect(out.exitCode).toBe(0);
      expect(out.stdout.trim().split("\n")).toHaveLength(1);
    } else {
      expect(result._unsafeUnwrapErr().code).toBe("closed");
    }
  }
  toString = () => `exec(${this.dir}, ${this.name})`;
}

class Sweep implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly dir: number,
    readonly keep: number[],
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const dir = dirs[this.dir]!;
    const kept = new Set(this.keep.map((n) => where(this.dir, n).path));
    const report = (await sweepNetns({ dir, prefix, keep: (p) => kept.has(p), driver: real.driver }))._unsafeUnwrap();
    const mine = [...model.exists].filter((p) => p.startsWith(`${dir}/`)).sort();
    expect(report.removed).toEqual(mine.filter((p) => !kept.has(p)));
    expect(report.kept).toEqual(mine.filter((p) => kept.has(p)));
    expect(report.failed).toEqual([]);
    for (const p of report.removed) model.exists.delete(p);
    await expectListing(model, real, dir);
  }
  toString = () => `sweep(${this.dir}, keep [${this.keep.join(",")}])`;
}

describeRoot("a model of which namespaces exist", () => {
  const driver = createBatchDriver();
  afterAll(async () => {
    for (const dir of dirs) await sweepNetns({ dir, prefix, keep: () => false, driver });
    await driver.close();
    removeTestDir(customDir);
  });

  it("agrees with the kernel over random create / remove / exec / sweep sequences", async () => {
    const dir = fc.nat(1);
    const name = fc.nat(4);
    const commands = [
      fc.tuple(dir, name).map(([d, n]) => new Create(d, n)),
      fc.tuple(dir, name).map(([d, n]) => new Remove(d, n)),
      fc.tuple(dir, name).map(([d, n]) => new Exec(d, n)),
      fc.tuple(dir, fc.uniqueArray(name, { maxLength: 3 })).map(([d, k]) => new Sweep(d, k)),
    ];
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 20 }), async (cmds) => {
        const real: Real = { driver };
        try {
          await fc.asyncModelRun(() => ({ model: { exists: new Set<string>() }, real }), cmds);
        } finally {
          // every sequence starts from nothing
          for (const d of dirs) (await sweepNetns({ dir: d, prefix, keep: () => false, driver }))._unsafeUnwrap();
        }
      }),
      { numRuns: 30 },
    );
  });
});
