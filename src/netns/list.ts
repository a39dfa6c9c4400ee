// listNetns: the namespaces under a directory, optionally only those with a name prefix.
import { readdir } from "node:fs/promises";
import { errAsync, ResultAsync } from "neverthrow";
import type { NetnsDriver } from "./driver.js";
import { NetnsError, needsRoot } from "./errors.js";
import { defaultDir, dirProblem, nameProblem, normalizeDir, prefixProblem } from "./names.js";
import { defaultDriver, Netns } from "./netns.js";

/** Where `listNetns` looks, and which names it keeps. */
export interface ListNetnsOptions {
  /** Default `/var/run/netns`. */
  readonly dir?: string;
  /** Only names that start with this. */
  readonly prefix?: string;
  /** The driver the returned handles use. Default: the shared fast driver. */
  readonly driver?: NetnsDriver;
}

/**
 * ListNetns returns a handle for every file under `dir` whose name is a valid namespace name
 * starting with `prefix`, sorted by name; mounted or not (a half-made one is listed too).
 * A missing `dir` has none.
 */
export function listNetns(options: ListNetnsOptions = {}): ResultAsync<Netns[], NetnsError> {
  return listIn("list", options, false);
}

/** Shared by listNetns and sweepNetns, which words its errors as a sweep and needs a prefix. */
export function listIn(
  operation: "list" | "sweep",
  options: ListNetnsOptions,
  prefixRequired: boolean,
): ResultAsync<Netns[], NetnsError> {
  const invalid = (reason: string) =>
    errAsync(new NetnsError({ operation, code: "invalid-argument", path: options.dir, reason }));
  const dirIssue = options.dir === undefined ? undefined : dirProblem(options.dir);
  if (dirIssue !== undefined) return invalid(`invalid dir ${JSON.stringify(options.dir)}: ${dirIssue}`);
  const prefix = options.prefix ?? "";
  const prefixIssue = prefixProblem(prefix, prefixRequired);
  if (prefixIssue !== undefined) return invalid(`invalid prefix ${JSON.stringify(options.prefix)}: ${prefixIssue}`);
  const dir = options.dir === undefined ? defaultDir : normalizeDir(options.dir);
  const driver = options.driver ?? defaultDriver();
  return ResultAsync.fromPromise(
    readdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return [] as string[];
      throw e;
    }),
    (e) => {
      const code = (e as NodeJS.ErrnoException).code;
      const denied = code === "EACCES" || code === "EPERM";
      return new NetnsError({
        operation,
        code: denied ? "permission" : "io",
        path: dir,
        reason: `${denied ? `${needsRoot}: ` : ""}readdir ${dir}: ${(e as Error).message}`,
        cause: e,
      });
    },
  ).map((entries) =>
    entries
      .filter((name) => name.startsWith(prefix) && nameProblem(name) === undefined)
      .sort()
      .map((name) => new Netns(name, dir, driver)),
  );
}
