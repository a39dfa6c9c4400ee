// What every rule property file sets up: fake timers driving the deadlines, and a record of
// unhandled rejections (a late settlement must never become one).
import { afterAll, afterEach, beforeAll, beforeEach, vi } from "vitest";

/** Installs the hooks in the calling file; returns the list unhandled rejections land in. */
export function useRuleHarness(): unknown[] {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeAll(() => {
    process.on("unhandledRejection", onUnhandled);
  });
  afterAll(() => {
    process.off("unhandledRejection", onUnhandled);
  });
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  return unhandled;
}

/** One real macrotask: lets every pending microtask and rejection report run. */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
