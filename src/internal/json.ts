// JsonValue: what a resource description, and so a journal record, may hold. A type-only leaf, so
// that the journal (storage) and the resources (adapters) can both name it without importing each
// other.

/** A JSON value: what a resource description may hold. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
