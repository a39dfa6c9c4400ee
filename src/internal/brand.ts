// The one way errdefer brands its error classes: a registered symbol set on each instance, so a
// guard (`isTransactionError`, `isJournalError`, ...) holds across two copies of the package in
// one node_modules tree, where `instanceof` would not.

/** A brand for one error class: `mark` it in the constructor, test it with `is`. */
export interface Brand {
  /** Marks `target` (an instance under construction) as carrying this brand. */
  mark(target: object): void;
  /** Whether `value` carries this brand. */
  is(value: unknown): boolean;
}

/** Creates the brand of the error class `name` (its symbol is `Symbol.for("errdefer.<name>")`). */
export function brand(name: string): Brand {
  const symbol = Symbol.for(`errdefer.${name}`);
  return {
    mark(target) {
      // Non-enumerable: it does not show in util.inspect or toMatchObject diffs.
      Object.defineProperty(target, symbol, { value: true });
    },
    is(value) {
      return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[symbol] === true;
    },
  };
}
