// What the runner runs as root must be root's: the CNI bin dir, each plugin in it, and each tool it
// starts by name (runc, ip, mount, umount, unshare). The rules are the state dir's (errdefer/host's
// ensurePrivateDir): not group- or world-writable, owned by root (or by the runner's own uid),
// and the right kind of file; a file's own directory too, since whoever can write that can
// replace the file. Symlinks are followed (plugin dirs are often links) and the target is checked.
// Nothing is created or changed here. Synchronous: a few syscalls, and the netns driver's `start`
// of `ip -batch` cannot wait.
import { realpathSync, statSync } from "node:fs";
import path from "node:path";

type Kind = "directory" | "file";

/** Why `p`, a `kind` the messages call `what` ("CNI bin dir"), cannot be trusted; undefined when it can. */
export function untrustedProblem(p: string, kind: Kind, what: string): string | undefined {
  const named = `${what} ${p}`;
  let real: string;
  try {
    real = realpathSync(p);
  } catch (e) {
    return `${named} cannot be resolved (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
  const label = real === p ? named : `${named} (${real})`;
  const own = problemOf(real, kind, label);
  if (own !== undefined || kind === "directory") return own;
  const dir = path.dirname(real);
  return problemOf(dir, "directory", `${named}: its directory ${dir}`);
}

function problemOf(real: string, kind: Kind, label: string): string | undefined {
  let st;
  try {
    st = statSync(real);
  } catch {
    return `${label} vanished while it was checked`;
  }
  if (kind === "directory" ? !st.isDirectory() : !st.isFile())
    return `${label} is not a ${kind === "file" ? "regular file" : kind}`;
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    return `${label} is group- or world-writable (mode ${mode}); refusing to use it`;
  }
  const uid = process.getuid?.();
  if (st.uid !== 0 && st.uid !== uid) return `${label} is owned by uid ${st.uid}, not by root; refusing to use it`;
  return undefined;
}
