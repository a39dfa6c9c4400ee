// tx.use: a disposable's own dispose method, as the cleanup that releases it (the
// AsyncDisposableStack.prototype.use of explicit resource management).
import { describeError } from "./errors.js";
import type { Cleanup } from "./types.js";

/**
 * The cleanup that disposes `resource`: its [Symbol.asyncDispose], else its [Symbol.dispose],
 * read now (as `use` reads it) and called with the resource as `this`. A sync dispose's return
 * value is ignored, as explicit resource management does. Throws a TypeError otherwise.
 */
export function disposerOf(resource: unknown): Cleanup {
  if ((typeof resource === "object" && resource !== null) || typeof resource === "function") {
    const r = resource as Partial<AsyncDisposable & Disposable>;
    // Symbol.asyncDispose is missing on runtimes older than Node 20.4: only [Symbol.dispose] then.
    const asyncDispose = typeof Symbol.asyncDispose === "symbol" ? r[Symbol.asyncDispose] : undefined;
    if (typeof asyncDispose === "function") return () => asyncDispose.call(resource);
    const dispose = typeof Symbol.dispose === "symbol" ? r[Symbol.dispose] : undefined;
    if (typeof dispose === "function") {
      return () => {
        dispose.call(resource);
      };
    }
  }
  const got = typeof resource === "object" && resource !== null ? "an object without one" : describeError(resource);
  throw new TypeError(`tx.use: resource must have a [Symbol.asyncDispose] or [Symbol.dispose] method, got ${got}`);
}
