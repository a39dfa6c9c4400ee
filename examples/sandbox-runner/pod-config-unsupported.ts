// The CRI PodSandboxConfig fields this runner does not implement. containerd implements each, so a
// config that sets one is refused, naming it: silently dropping it would run a sandbox that is not
// the one asked for (a privileged pod, host ports, sysctls). Empty and default values are accepted.

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Absent, null, "", false, 0, [], or an object of such values: proto3's "not set". */
function blank(v: unknown): boolean {
  if (v === undefined || v === null || v === "" || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  return isObject(v) && Object.values(v).every(blank);
}

/** A NamespaceMode the runner gives the sandbox anyway (its pause container has its own pid and ipc namespaces). */
const mode =
  (...names: readonly ("POD" | "CONTAINER" | "NODE")[]) =>
  (v: unknown): boolean =>
    v === undefined || v === null || names.some((n) => v === n || v === ["POD", "CONTAINER", "NODE"].indexOf(n));

/** A seccomp or AppArmor profile: only none, or Unconfined (an empty one means RuntimeDefault to containerd). */
const unconfined = (v: unknown): boolean =>
  v === undefined ||
  v === null ||
  (isObject(v) && (v.profile_type === "Unconfined" || v.profile_type === 1) && blank(v.localhost_ref));

/** The host's user namespace (mode NODE, no mappings): what the runner uses. */
const hostUserns = (v: unknown): boolean =>
  blank(v) || (isObject(v) && (v.mode === "NODE" || v.mode === 2) && blank(v.uids) && blank(v.gids));

interface Unsupported {
  /** The field, as the config names it. */
  readonly field: string;
  /** What containerd does with it. */
  readonly does: string;
  /** Whether `value` asks for nothing this runner does not do. */
  readonly accepts: (value: unknown) => boolean;
}

const SC = "linux.security_context";

const FIELDS: readonly Unsupported[] = [
  { field: "port_mappings", does: "maps host ports into the sandbox", accepts: blank },
  { field: "log_directory", does: "keeps the pod's container logs there", accepts: blank },
  { field: "dns_config", does: "writes it to the sandbox's resolv.conf", accepts: blank },
  { field: "windows", does: "runs Windows sandboxes", accepts: blank },
  { field: "linux.cgroup_parent", does: "puts the sandbox's cgroup under it", accepts: blank },
  { field: "linux.sysctls", does: "sets them in the sandbox", accepts: blank },
  { field: "linux.overhead", does: "accounts the sandbox's overhead", accepts: blank },
  { field: "linux.resources", does: "sizes the sandbox's cgroup", accepts: blank },
  { field: `${SC}.privileged`, does: "runs the sandbox privileged", accepts: blank },
  {
    field: `${SC}.namespace_options.pid`,
    does: "shares the host's (NODE) or a target's",
    accepts: mode("POD", "CONTAINER"),
  },
  { field: `${SC}.namespace_options.ipc`, does: "shares the host's (NODE)", accepts: mode("POD") },
  { field: `${SC}.namespace_options.target_id`, does: "joins the target's namespaces", accepts: blank },
  { field: `${SC}.namespace_options.userns_options`, does: "runs it in a user namespace", accepts: hostUserns },
  { field: `${SC}.selinux_options`, does: "labels the sandbox", accepts: blank },
  { field: `${SC}.run_as_user`, does: "runs the pause process as that user (here: root)", accepts: blank },
  { field: `${SC}.run_as_group`, does: "runs the pause process as that group (here: root)", accepts: blank },
  { field: `${SC}.supplemental_groups`, does: "gives the pause process these groups", accepts: blank },
  { field: `${SC}.seccomp`, does: "applies the seccomp profile", accepts: unconfined },
  { field: `${SC}.apparmor`, does: "applies the AppArmor profile", accepts: unconfined },
  {
    field: `${SC}.seccomp_profile_path`,
    does: "applies the seccomp profile",
    accepts: (v) => blank(v) || v === "unconfined",
  },
  {
    field: `${SC}.apparmor_profile`,
    does: "applies the AppArmor profile",
    accepts: (v) => blank(v) || v === "unconfined",
  },
];

/** The value at a dotted path, if every object on the way is one (the parser reports the others). */
function at(raw: Json, field: string): unknown {
  let value: unknown = raw;
  for (const key of field.split(".")) value = isObject(value) ? value[key] : undefined;
  return value;
}

/** Reports each field `raw` sets that the runner does not implement. */
export function reportUnsupported(raw: Json, report: (field: string, reason: string) => void): void {
  for (const { field, does, accepts } of FIELDS) {
    if (!accepts(at(raw, field)))
      report(field, `is not supported by this runner (containerd ${does}); leave it out or empty`);
  }
}
