// What host-local has allocated, read from its files, so gc can find IPs no sandbox owns.
// host-local keeps one file per IP under <dataDir>/<network name>, named by the IP, holding the
// container id and (since plugins 0.9) the interface name: "<id>\r\n<ifname>" in 1.1.1 (CRLF,
// checked on this machine). `last_reserved_ip.<range>` and `lock` are its bookkeeping.
import { readdir, readFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import { CniConfigError } from "./errors.js";
import type { CniNetworkList } from "./types.js";

/** host-local's dataDir when the ipam config sets none. */
export const hostLocalDefaultDataDir = "/var/lib/cni/networks";

/**
 * The host-local dataDirs a network list allocates from (the ipam of each plugin using
 * host-local, its `dataDir` or the default), so gc knows where to call listAllocations.
 */
export function hostLocalDataDirs(network: CniNetworkList): string[] {
  const dirs = new Set<string>();
  for (const plugin of network.plugins) {
    const ipam: unknown = plugin.ipam;
    if (typeof ipam !== "object" || ipam === null) continue;
    const { type, dataDir } = ipam as { type?: unknown; dataDir?: unknown };
    if (type === "host-local")
      dirs.add(typeof dataDir === "string" && dataDir !== "" ? dataDir : hostLocalDefaultDataDir);
  }
  return [...dirs];
}

export interface Allocation {
  /** The allocated address, as host-local names the file (no prefix length). */
  readonly ip: string;
  /** The CNI_CONTAINERID the address was allocated to ("" if the file was empty). */
  readonly containerId: string;
  /** The CNI_IFNAME, when host-local recorded it. */
  readonly ifName: string | undefined;
  readonly file: string;
}

/** Parses an allocation file's text: the container id, then the interface name, CRLF or LF. */
export function parseAllocation(text: string): { containerId: string; ifName: string | undefined } {
  const [containerId = "", ifName] = text.split(/\r?\n/).map((line) => line.trim());
  return { containerId, ifName: ifName === undefined || ifName === "" ? undefined : ifName };
}

/**
 * The IPs host-local has allocated in `networkName` under `dataDir`, sorted by file name. A
 * missing directory means none. An allocation whose file disappears while reading (released
 * concurrently) is left out.
 */
export function listAllocations(dataDir: string, networkName: string): ResultAsync<Allocation[], CniConfigError> {
  return new ResultAsync(
    (async (): Promise<Result<Allocation[], CniConfigError>> => {
      // The name becomes a path component: refuse anything that could leave dataDir.
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(networkName)) {
        return err(
          new CniConfigError({
            code: "invalid",
            field: "name",
            reason: `${JSON.stringify(networkName)} is not a valid network name`,
          }),
        );
      }
      const dir = path.join(path.resolve(dataDir), networkName);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return ok([]);
        return err(
          new CniConfigError({
            code: "io",
            file: dir,
            reason: `cannot list host-local allocations: ${(e as Error).message}`,
            cause: e,
          }),
        );
      }
      const allocations: Allocation[] = [];
      // IP-named files only; that leaves out lock, last_reserved_ip.* and any stray temp file.
      for (const name of names.filter((n) => isIP(n) !== 0).sort()) {
        const file = path.join(dir, name);
        try {
          allocations.push({ ip: name, ...parseAllocation(await readFile(file, "utf8")), file });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
          return err(
            new CniConfigError({
              code: "io",
              file,
              reason: `cannot read a host-local allocation: ${(e as Error).message}`,
              cause: e,
            }),
          );
        }
      }
      return ok(allocations);
    })(),
  );
}
