// Reading what the runner needs from a CNI result: the pod's IP.
import type { CniResult } from "./types.js";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The bare address (no prefix length) of the sandbox-side interface: the first `ips[]` entry whose
 * `interface` indexes an `interfaces[]` entry with `sandbox` set, else the first IP at all.
 * Results older than 0.3.0 carry `ip4.ip` instead. Undefined when the result has no IP.
 */
export function sandboxIp(result: CniResult): string | undefined {
  const rawIps: unknown = result.ips;
  const rawInterfaces: unknown = result.interfaces;
  const ips = (Array.isArray(rawIps) ? (rawIps as unknown[]) : []).filter(
    (ip): ip is { address: string; interface?: unknown } => isObject(ip) && typeof ip.address === "string",
  );
  const interfaces: unknown[] = Array.isArray(rawInterfaces) ? (rawInterfaces as unknown[]) : [];
  const inSandbox = ips.find((ip) => {
    const index = ip.interface;
    if (typeof index !== "number") return false;
    const iface = interfaces[index];
    return isObject(iface) && typeof iface.sandbox === "string" && iface.sandbox !== "";
  });
  const chosen = inSandbox ?? ips[0];
  if (chosen !== undefined) return bare(chosen.address);
  const legacy = result.ip4;
  if (isObject(legacy) && typeof legacy.ip === "string") return bare(legacy.ip);
  return undefined;
}

function bare(cidr: string): string {
  const slash = cidr.indexOf("/");
  return slash === -1 ? cidr : cidr.slice(0, slash);
}
