// Loading, validating and defaulting the CNI network configuration, the way libcni (as containerd's
// go-cni uses it) picks it: the first file in lexical order ending .conflist, .conf or .json.
import { mkdir, readdir, readFile } from "node:fs/promises";
import { isIPv4 } from "node:net";
import path from "node:path";
import { writeAtomic } from "errdefer/host";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import { parseJson } from "../json-text.js";
import { CniConfigError } from "./errors.js";
import type { CniNetworkList, CniPluginConfig } from "./types.js";

const extensions = [".conflist", ".conf", ".json"] as const;

/** A plugin type is a file name in the bin dir: no slashes, no `..`, nothing a shell would see. */
const pluginTypePattern = /^[A-Za-z0-9_.-]+$/;
/** libcni's rule for network names; host-local also uses the name as a directory under dataDir. */
const networkNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const versionPattern = /^\d+\.\d+\.\d+$/;
const bridgeNamePattern = /^[A-Za-z0-9_.-]{1,15}$/;

export interface LoadedNetworkConfig {
  readonly config: CniNetworkList;
  /** The absolute path of the file it came from. */
  readonly file: string;
}

/** Why `type` cannot name a plugin binary, or undefined when it can. */
export function pluginTypeProblem(type: unknown): string | undefined {
  if (typeof type !== "string") return `must be a string, got ${describe(type)}`;
  if (!pluginTypePattern.test(type))
    return `${JSON.stringify(type)} must match ${pluginTypePattern.source} (a file name in the plugin dir)`;
  if (type === "." || type === "..") return `${JSON.stringify(type)} is not a file name`;
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? JSON.stringify(value) : typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates a parsed network list (from a file, or one stored with a sandbox before it is reused
 * for DEL). `file` only labels the errors.
 */
export function validateNetworkList(value: unknown, file?: string): Result<CniNetworkList, CniConfigError> {
  const invalid = (field: string | undefined, reason: string) =>
    err(new CniConfigError({ code: "invalid", file, field, reason }));
  if (!isObject(value)) return invalid(undefined, `must be a JSON object, got ${describe(value)}`);
  const { cniVersion, name, plugins } = value;
  if (typeof cniVersion !== "string")
    return invalid(
      "cniVersion",
      cniVersion === undefined ? "is missing" : `must be a string, got ${describe(cniVersion)}`,
    );
  if (!versionPattern.test(cniVersion))
    return invalid("cniVersion", `${JSON.stringify(cniVersion)} is not a version such as "1.0.0"`);
  if (typeof name !== "string")
    return invalid("name", name === undefined ? "is missing" : `must be a string, got ${describe(name)}`);
  if (!networkNamePattern.test(name))
    return invalid("name", `${JSON.stringify(name)} must match ${networkNamePattern.source}`);
  if (!Array.isArray(plugins))
    return invalid("plugins", plugins === undefined ? "is missing" : `must be an array, got ${describe(plugins)}`);
  if (plugins.length === 0) return invalid("plugins", "must list at least one plugin");
  for (const [i, plugin] of (plugins as unknown[]).entries()) {
    if (!isObject(plugin)) return invalid(`plugins[${i}]`, `must be an object, got ${describe(plugin)}`);
    if (plugin.type === undefined) return invalid(`plugins[${i}].type`, "is missing");
    const problem = pluginTypeProblem(plugin.type);
    if (problem !== undefined) return invalid(`plugins[${i}].type`, problem);
  }
  return ok(value as CniNetworkList);
}

/** Parses one config file's text; a `.conf`/`.json` is a single plugin, normalised into a list. */
export function parseNetworkConfig(text: string, file: string): Result<CniNetworkList, CniConfigError> {
  // The position only, never the text: a config file may be a symlink to anything root can read.
  const json = parseJson(text);
  if (json.isErr()) return err(new CniConfigError({ code: "invalid", file, reason: json.error.message }));
  const parsed = json.value;
  if (file.endsWith(".conflist")) return validateNetworkList(parsed, file);
  if (!isObject(parsed))
    return err(new CniConfigError({ code: "invalid", file, reason: `must be a JSON object, got ${describe(parsed)}` }));
  // go-cni's rule: a single-plugin file must have a type ("also catches a conflist put in a .conf").
  if (parsed.type === undefined) {
    const hint = Array.isArray(parsed.plugins) ? " (a list of plugins belongs in a .conflist file)" : "";
    return err(new CniConfigError({ code: "invalid", file, field: "type", reason: `is missing${hint}` }));
  }
  const problem = pluginTypeProblem(parsed.type);
  if (problem !== undefined) return err(new CniConfigError({ code: "invalid", file, field: "type", reason: problem }));
  // libcni's ConfListFromConf: the list takes the conf's name and version; the plugin is the conf.
  return validateNetworkList({ cniVersion: parsed.cniVersion, name: parsed.name, plugins: [parsed] }, file);
}

function ioError(file: string | undefined, reason: string, cause: unknown): CniConfigError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new CniConfigError({ code: "io", file, reason: `${reason}: ${message}`, cause });
}

/** The config files libcni would consider, sorted; an absent dir has none. */
async function configFiles(confDir: string): Promise<Result<string[], CniConfigError>> {
  try {
    const entries = await readdir(confDir, { withFileTypes: true });
    const names = entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && extensions.some((ext) => e.name.endsWith(ext)))
      .map((e) => e.name)
      // Lexical by code unit, as Go's sort.Strings; localeCompare would order differently.
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return ok(names.map((n) => path.join(confDir, n)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return ok([]);
    return err(ioError(confDir, "cannot list the config dir", e));
  }
}

/**
 * The network configuration in `confDir`: the first file in lexical order ending .conflist,
 * .conf or .json, validated. `undefined` when the dir has no such file (or does not exist).
 * A bad first file is an error, not a reason to try the next: a silent fallback would attach
 * pods to a network nobody chose.
 */
export function loadNetworkConfig(confDir: string): ResultAsync<LoadedNetworkConfig | undefined, CniConfigError> {
  const dir = path.resolve(confDir);
  return new ResultAsync(
    (async (): Promise<Result<LoadedNetworkConfig | undefined, CniConfigError>> => {
      const files = await configFiles(dir);
      if (files.isErr()) return err(files.error);
      const file = files.value[0];
      if (file === undefined) return ok(undefined);
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (e) {
        return err(ioError(file, "cannot read", e));
      }
      return parseNetworkConfig(text, file).map((config) => ({ config, file }));
    })(),
  );
}

export interface DefaultNetworkSettings {
  readonly networkName: string;
  /** The Linux bridge the bridge plugin creates (1-15 chars). */
  readonly bridge: string;
  /** An IPv4 CIDR with its host bits zero, such as `10.88.0.0/16`. */
  readonly subnet: string;
  /** host-local's allocation dir (absolute); allocations go under `<dataDir>/<networkName>`. */
  readonly dataDir: string;
}

function validateSettings(s: DefaultNetworkSettings): Result<DefaultNetworkSettings, CniConfigError> {
  const invalid = (field: string, reason: string) => err(new CniConfigError({ code: "invalid", field, reason }));
  if (typeof s.networkName !== "string" || !networkNamePattern.test(s.networkName)) {
    return invalid("networkName", `${describe(s.networkName)} must match ${networkNamePattern.source}`);
  }
  if (typeof s.bridge !== "string" || !bridgeNamePattern.test(s.bridge)) {
    return invalid(
      "bridge",
      `${describe(s.bridge)} must be 1-15 characters of A-Z a-z 0-9 _ . - (a Linux interface name)`,
    );
  }
  if (s.bridge === "." || s.bridge === "..")
    return invalid("bridge", `${JSON.stringify(s.bridge)} is not a valid interface name`);
  const subnetProblem = ipv4CidrProblem(s.subnet);
  if (subnetProblem !== undefined) return invalid("subnet", subnetProblem);
  if (typeof s.dataDir !== "string" || !path.isAbsolute(s.dataDir))
    return invalid("dataDir", `${describe(s.dataDir)} must be an absolute path`);
  return ok(s);
}

/** Why `value` is not a usable IPv4 subnet for host-local, or undefined. */
export function ipv4CidrProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return `must be an IPv4 CIDR such as "10.88.0.0/16", got ${describe(value)}`;
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(value);
  if (match === null || !isIPv4(match[1]!))
    return `${JSON.stringify(value)} is not an IPv4 CIDR such as "10.88.0.0/16"`;
  const prefix = Number(match[2]);
  // /31 and /32 leave host-local no address after the network, gateway and broadcast ones.
  if (prefix > 30)
    return `${JSON.stringify(value)}: the prefix length must be at most 30 to leave addresses to allocate`;
  if (prefix < 1) return `${JSON.stringify(value)}: the prefix length must be at least 1`;
  const address = match[1]!.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const hostBits = 2 ** (32 - prefix);
  if (address % hostBits !== 0) {
    const network = address - (address % hostBits);
    const dotted = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join(".");
    return `${JSON.stringify(value)} has host bits set; did you mean "${dotted}/${prefix}"?`;
  }
  return undefined;
}

/**
 * The runner's default conflist: a bridge with host-local IPAM, then loopback. isGateway is false
 * on purpose: true makes the bridge plugin set the host-wide net.ipv4.ip_forward, and the runner
 * leaves the host as it found it; ipMasq false likewise keeps iptables untouched.
 */
export function defaultNetworkConfig(settings: DefaultNetworkSettings): Result<CniNetworkList, CniConfigError> {
  return validateSettings(settings).map((s) => ({
    cniVersion: "1.0.0",
    name: s.networkName,
    plugins: [
      {
        type: "bridge",
        bridge: s.bridge,
        isGateway: false,
        ipMasq: false,
        ipam: { type: "host-local", ranges: [[{ subnet: s.subnet }]], dataDir: s.dataDir },
      } satisfies CniPluginConfig,
      { type: "loopback" } satisfies CniPluginConfig,
    ],
  }));
}

/** The file name ensureNetworkConfig writes; `10-` so a file the admin adds with a lower number wins. */
export function defaultConfigFileName(networkName: string): string {
  return `10-${networkName}.conflist`;
}

/** Written whole, 0644 whatever the umask; its temp name (`.<name>.<pid>-<hex>.tmp`) is never a config file. */
async function writeConfigFile(file: string, text: string): Promise<Result<void, CniConfigError>> {
  try {
    await writeAtomic(file, text, { mode: 0o644 });
    return ok(undefined);
  } catch (e) {
    return err(ioError(file, "cannot write", e));
  }
}

/**
 * Loads the dir's network configuration, first writing the default one (0644, atomically) when
 * the dir has none. An existing config, even a different one, is never replaced.
 */
export function ensureNetworkConfig(
  confDir: string,
  defaults: DefaultNetworkSettings,
): ResultAsync<LoadedNetworkConfig, CniConfigError> {
  const dir = path.resolve(confDir);
  return loadNetworkConfig(dir).andThen((loaded) => {
    if (loaded !== undefined) return ok(loaded);
    const config = defaultNetworkConfig(defaults);
    if (config.isErr()) return err(config.error);
    return new ResultAsync(
      (async (): Promise<Result<LoadedNetworkConfig, CniConfigError>> => {
        try {
          await mkdir(dir, { recursive: true, mode: 0o755 });
        } catch (e) {
          return err(ioError(dir, "cannot create the config dir", e));
        }
        const written = await writeConfigFile(
          path.join(dir, defaultConfigFileName(config.value.name)),
          `${JSON.stringify(config.value, null, 2)}\n`,
        );
        if (written.isErr()) return err(written.error);
        // Load again rather than return what was written: a racing writer's file may sort first.
        const reloaded = await loadNetworkConfig(dir);
        if (reloaded.isErr()) return err(reloaded.error);
        if (reloaded.value === undefined)
          return err(new CniConfigError({ code: "io", file: dir, reason: "the written config vanished" }));
        return ok(reloaded.value);
      })(),
    );
  });
}
