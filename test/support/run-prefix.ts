// The per-run name prefix every test namespace, mount and temporary dir carries.
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    netnsRunPrefix: string;
  }
}

/** `edt` + 6 hex digits + `-`, chosen once per vitest run by global-setup.ts. */
export const runPrefix: string = inject("netnsRunPrefix");
