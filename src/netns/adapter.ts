// The netns resource adapter: a namespace described as { dir, name }, so that a saga can journal
// it and recover() in another process can remove it.
import { errAsync, type ResultAsync } from "neverthrow";
import type { ResourceAdapter } from "../resources/adapter.js";
import type { NetnsDriver } from "./driver.js";
import { NetnsError } from "./errors.js";
import { createNetns, loadNetns, type Netns } from "./netns.js";
import { defaultDir, generateName, normalizeDir } from "./names.js";

/** What the adapter journals: enough to find the mount point again. */
export type NetnsDescription = { readonly dir: string; readonly name: string };

/** What a netns resource step plans: the namespace's name (and its directory). */
export interface NetnsSpec {
  /** Default `/var/run/netns`. */
  readonly dir?: string;
  /** Default `cni-` + a random id: unique, so releasing a plan never touches another namespace. */
  readonly name?: string;
}

/** The driver and directory `netnsAdapter` releases through. */
export interface NetnsAdapterOptions {
  /** Share one `ip -batch` process, or substitute a test runner. */
  readonly driver?: NetnsDriver;
  /**
   * The directories whose namespaces this adapter may release (default: `/var/run/netns` and
   * `/run/netns`). A description from a journal is data someone could have written: a release
   * elsewhere would unmount or unlink an arbitrary path.
   */
  readonly dirs?: readonly string[];
  /** Only namespaces whose names start with it are released (default: any name). */
  readonly prefix?: string;
}

/** The adapter for kind `netns`. */
export function netnsAdapter(
  options: NetnsAdapterOptions = {},
): ResourceAdapter<NetnsSpec, Netns, NetnsDescription, NetnsError> {
  const driver = options.driver === undefined ? {} : { driver: options.driver };
  const dirs = new Set((options.dirs ?? [defaultDir, "/run/netns"]).map((d) => normalizeDir(d)));
  const prefix = options.prefix ?? "";
  return {
    kind: "netns",
    plan: (spec) => ({ dir: normalizeDir(spec.dir ?? defaultDir), name: spec.name ?? generateName() }),
    acquire: (plan, { signal }) => createNetns({ dir: plan.dir, name: plan.name, signal, ...driver }),
    describe: (ns) => ({ dir: ns.dir, name: ns.name }),
    release: (desc, { signal }): ResultAsync<void, NetnsError> => {
      const dir = typeof desc.dir === "string" ? normalizeDir(desc.dir) : "";
      if (!dirs.has(dir) || typeof desc.name !== "string" || !desc.name.startsWith(prefix)) {
        const reason = `refusing to release ${JSON.stringify(`${String(desc.dir)}/${String(desc.name)}`)}: not a namespace of this adapter's dirs (${[...dirs].join(", ")})${prefix === "" ? "" : ` and prefix ${prefix}`}`;
        return errAsync(
          new NetnsError({ operation: "remove", code: "invalid-argument", reason, name: String(desc.name) }),
        );
      }
      const loaded = loadNetns(`${desc.dir}/${desc.name}`, driver);
      if (loaded.isErr()) return errAsync(loaded.error);
      return loaded.value.remove({ signal });
    },
  };
}
