// Races driven by fast-check's scheduler: the caller aborts during the unwind, an acquisition
// resolves after the body ended, concurrent acquisitions.
import { fc, test } from "@fast-check/vitest";
import { err, ok, type ResultAsync } from "neverthrow";
import { describe, expect } from "vitest";
import { TransactionClosedError, transaction, type TransactionEvent } from "../../src/index.js";

/** Fails with the scheduler's report, so a failing interleaving can be read. */
function withReport(s: fc.Scheduler, check: () => void): void {
  try {
    check();
  } catch (e) {
    const report = s.report().map((t) => `${t.status} ${t.label}`);
    throw new Error(`${e instanceof Error ? e.message : String(e)}\nscheduler report:\n${report.join("\n")}`, {
      cause: e,
    });
  }
}

describe("races (fc.scheduler)", () => {
  test.prop(
    [
      fc.scheduler(),
      fc.array(fc.constantFrom<"always" | "error" | "success">("always", "always", "error", "success"), {
        minLength: 1,
        maxLength: 5,
      }),
      fc.boolean(),
    ],
    { numRuns: 100 },
  )(
    "the caller aborts during the unwind: every cleanup still gets a live signal of its own",
    async (s, kinds, bodyOk) => {
      const controller = new AbortController();
      const reason = new Error("caller gave up");
      const bodyError = new Error("body failed");
      const runs: {
        label: string;
        callerAborted: boolean;
        liveAtStart: boolean;
        liveAfterWork: boolean;
        own: boolean;
      }[] = [];
      let abort: Promise<void> | undefined;
      const work = s.scheduleFunction(async (label: string) => label);
      const pending = transaction(
        async (tx) => {
          kinds.forEach((on, k) =>
            tx.defer(
              async (ctx) => {
                // The caller's abort is scheduled once the unwind has begun, and races the cleanups.
                abort ??= s.schedule(Promise.resolve(), "caller aborts").then(() => controller.abort(reason));
                const callerAborted = controller.signal.aborted;
                const liveAtStart = !ctx.signal.aborted;
                await work(ctx.label);
                runs.push({
                  label: ctx.label,
                  callerAborted,
                  liveAtStart,
                  liveAfterWork: !ctx.signal.aborted,
                  own: ctx.signal !== controller.signal && ctx.signal !== tx.signal,
                });
              },
              { on, label: `c${k + 1}` },
            ),
          );
          await work("body");
          return bodyOk ? ok("done") : err(bodyError);
        },
        { signal: controller.signal },
      );
      const result = await s.waitFor(Promise.resolve(pending));
      await s.waitIdle();
      await abort;
      withReport(s, () => {
        const expected = kinds
          .map((on, k) => ({ on, label: `c${k + 1}` }))
          .reverse()
          .filter(({ on }) => on === "always" || (on === "error") === !bodyOk)
          .map(({ label }) => label);
        expect(runs.map((r) => r.label)).toEqual(expected);
        for (const r of runs) {
          expect(r.liveAtStart, `${r.label} live at start`).toBe(true);
          expect(r.liveAfterWork, `${r.label} live after its work`).toBe(true);
          expect(r.own, `${r.label} has its own signal`).toBe(true);
        }
        if (expected.length > 0) expect(controller.signal.aborted).toBe(true);
        // The caller's abort changes nothing in the result.
        if (bodyOk) expect(result.isOk() && result.value).toBe("done");
        else expect(result.isErr() && result.error.cause).toBe(bodyError);
      });
    },
  );

  test.prop([fc.scheduler(), fc.constantFrom<"ok" | "err" | "throw">("ok", "err", "throw")], { numRuns: 100 })(
    "an acquisition that resolves after the body ended is released at once, exactly once",
    async (s, end) => {
      const resource = { fd: 3 };
      const releases: unknown[] = [];
      let settled = false;
      let acquisition: ResultAsync<{ fd: number }, unknown> | undefined;
      const acquireFn = s.scheduleFunction(async () => resource);
      const step = s.scheduleFunction(async () => undefined);
      const pending = transaction(async (tx) => {
        acquisition = tx.acquire(
          () => acquireFn(),
          (r) => {
            releases.push(r);
          },
          { label: "res" },
        );
        await step();
        if (end === "throw") throw new Error("body threw");
        return end === "ok" ? ok(1) : err("body failed");
      });
      void pending.then(() => {
        settled = true;
      });
      await s.waitFor(Promise.resolve(pending));
      const releasesWhenSettled = releases.length;
      await s.waitIdle();
      const acquired = await acquisition!;
      withReport(s, () => {
        expect(settled).toBe(true);
        expect(releases).toHaveLength(1);
        expect(releases[0]).toBe(resource);
        if (acquired.isOk()) {
          // Acquired while the body ran: released by the unwind, before the transaction settled.
          expect(acquired.value).toBe(resource);
          expect(releasesWhenSettled).toBe(1);
        } else {
          expect(acquired.error).toBeInstanceOf(TransactionClosedError);
        }
      });
    },
  );

  test.prop(
    [
      fc.scheduler(),
      fc.array(
        fc.record({
          outcome: fc.constantFrom<"value" | "err" | "throw">("value", "value", "err", "throw"),
          registerFirst: fc.boolean(),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      fc.boolean(),
      fc.boolean(),
    ],
    { numRuns: 100 },
  )(
    "concurrent acquisitions: each acquired resource is released exactly once, in reverse order of registration",
    async (s, specs, awaitAll, bodyOk) => {
      const events: TransactionEvent[] = [];
      const releases: { label: string; resource: unknown }[] = [];
      const resources = specs.map((_, k) => ({ resource: k + 1 }));
      const failures = specs.map((_, k) => new Error(`acquisition ${k + 1} failed`));
      const acquisitions: ResultAsync<unknown, unknown>[] = [];
      const step = s.scheduleFunction(async () => undefined);
      const pending = transaction(
        async (tx) => {
          specs.forEach((spec, k) => {
            const label = `r${k + 1}`;
            const acquireFn = s.scheduleFunction(async () => {
              if (spec.outcome === "throw") throw failures[k];
              return spec.outcome === "err" ? err(failures[k]) : ok(resources[k]!);
            });
            const release = (r: { resource: number } | undefined): void => {
              releases.push({ label, resource: r });
            };
            acquisitions.push(
              spec.registerFirst && awaitAll
                ? tx.acquire(() => acquireFn(), release, { label, registerFirst: true })
                : tx.acquire(() => acquireFn(), release, { label }),
            );
          });
          if (awaitAll) await Promise.all(acquisitions);
          await step();
          return bodyOk ? ok("done") : err("body failed");
        },
        { onEvent: (e) => events.push(e) },
      );
      const result = await s.waitFor(Promise.resolve(pending));
      await s.waitIdle();
      const outcomes = await Promise.all(acquisitions);
      withReport(s, () => {
        expect(bodyOk ? result.isOk() : result.isErr()).toBe(true);
        specs.forEach((spec, k) => {
          const label = `r${k + 1}`;
          const mine = releases.filter((r) => r.label === label);
          const outcome = outcomes[k]!;
          const registeredFirst = spec.registerFirst && awaitAll;
          if (spec.outcome === "value") {
            expect(mine, `${label} released exactly once`).toHaveLength(1);
            expect(mine[0]!.resource).toBe(resources[k]);
            if (outcome.isOk()) expect(outcome.value).toBe(resources[k]);
            else expect(outcome.error).toBeInstanceOf(TransactionClosedError);
          } else {
            expect(outcome.isErr()).toBe(true);
            if (awaitAll) expect(outcome.isErr() && outcome.error).toBe(failures[k]);
            // Nothing was acquired: only a release registered first runs, with no resource.
            expect(mine, `${label} releases`).toEqual(registeredFirst ? [{ label, resource: undefined }] : []);
          }
        });
        // Releases that ran in the unwind ran in reverse order of registration.
        const registered = events.flatMap((e) => (e.type === "cleanup:registered" ? [e.label] : []));
        const inUnwind = releases
          .map((r) => r.label)
          .filter((label) => outcomes[Number(label.slice(1)) - 1]!.isOk() || registered.includes(label));
        const expectedOrder = [...registered].reverse().filter((label) => inUnwind.includes(label));
        expect(inUnwind).toEqual(expectedOrder);
      });
    },
  );
});
