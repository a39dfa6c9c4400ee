// Saga step events go to the run's onStep and to the diagnostics_channel errdefer:saga, like the
// engine's events go to errdefer:transaction and errdefer:cleanup.
import diagnosticsChannel from "node:diagnostics_channel";
import { err, ok } from "neverthrow";
import { afterEach, describe, expect, it } from "vitest";
import { SAGA_CHANNEL, saga, type StepEvent } from "../../src/index.js";

const seen: StepEvent[] = [];
const listener = (message: unknown): void => {
  seen.push(message as StepEvent);
};

afterEach(() => {
  diagnosticsChannel.unsubscribe(SAGA_CHANNEL, listener);
  seen.length = 0;
});

describe("the errdefer:saga channel", () => {
  it("receives every step event, the same ones onStep sees, without an onStep", async () => {
    expect(SAGA_CHANNEL).toBe("errdefer:saga");
    diagnosticsChannel.subscribe(SAGA_CHANNEL, listener);
    const observed: StepEvent[] = [];
    const r = await saga("pod")
      .step("a", { run: () => ok(1) })
      .step("b", { run: () => err(new Error("b failed")) })
      .run(undefined, { onStep: (e) => observed.push(e) });
    expect(r.isErr()).toBe(true);
    expect(seen.map((e) => `${e.saga} ${e.type} ${e.step}`)).toEqual([
      "pod step:started a",
      "pod step:succeeded a",
      "pod step:started b",
      "pod step:failed b",
    ]);
    expect(seen).toEqual(observed);

    seen.length = 0;
    await saga("quiet")
      .step("only", { run: () => ok(2) })
      .run(undefined);
    expect(seen.map((e) => e.type)).toEqual(["step:started", "step:succeeded"]);
  });
});
