// The netns resource adapter: a namespace described as { dir, name }, so that a saga can journal
// it and recover() in another process can remove it.
import { errAsync, type ResultAsync } from "neverthrow";
import type { ResourceAdapter } from "../resources/adapter.js";
import type { NetnsDriver } from "./driver.js";
import type { NetnsError } from "./errors.js";
import { createNetns, loadNetns, type Netns } from "./netns.js";
import { defaultDir, generateName, normalizeDir } from "./names.js";

/** What the adapter journals: enough to find the mount point again. */
export type NetnsDescription = { readonly dir: string; readonly name: string };

export interface NetnsSpec {
  /** Default `/var/run/netns`. */
  readonly dir?: string;
  /** Default `cni-` + a random id: unique, so releasing a plan never touches another namespace. */
  readonly name?: string;
}

/** The adapter for kind `netns`; pass a driver to share one `ip -batch` process, or a test runner. */
export function netnsAdapter(options: { readonly driver?: NetnsDriver } = {}): ResourceAdapter<NetnsSpec, Netns, NetnsDescription, NetnsError> {
  const driver = options.driver === undefined ? {} : { driver: options.driver };
  return {
    kind: "netns",
    plan: (spec) => ({ dir: normalizeDir(spec.dir ?? defaultDir), name: spec.name ?? generateName() }),
    acquire: (plan, { signal }) => createNetns({ dir: plan.dir, name: plan.name, signal, ...driver }),
    describe: (ns) => ({ dir: ns.dir, name: ns.name }),
    release: (desc, { signal }): ResultAsync<void, NetnsError> => {
      const loaded = loadNetns(`${desc.dir}/${desc.name}`, driver);
      if (loaded.isErr()) return errAsync(loaded.error);
      return loaded.value.remove({ signal });
    },
  };
}
