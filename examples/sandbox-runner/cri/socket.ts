// The CRI server's unix socket: where it may be, who may connect, and what is done with a socket
// file already there. The socket is created in a directory the runner owns and checks as it checks
// the state dir (ensurePrivateDir: made 0700, not a symlink, not group- or world-writable, ours),
// and is made 0600 once bound: only root (the runner's user) can drive the runner, which runs
// everything as root. A socket file a killed server left is replaced; one a server still listens
// on is refused; anything else at that path is never removed.
import { lstat, chmod, unlink } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";
import { ensurePrivateDir } from "errdefer/host";

/** Where `serve` listens unless told: /run is root's tmpfs, gone at reboot as a socket should be. */
export const DEFAULT_LISTEN = "unix:///run/errdefer/cri.sock";

/** The socket's mode: the runner's user only. */
export const SOCKET_MODE = 0o600;

/** sockaddr_un's sun_path holds 108 bytes with the NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

/** The socket path a `unix:///ABSOLUTE/PATH` listen address names; why not, when it names none. */
export function socketPath(listen: string): Result<string, string> {
  const file = listen.startsWith("unix://") ? listen.slice("unix://".length) : undefined;
  if (file === undefined) return err(`--listen must be unix:///ABSOLUTE/PATH, got ${JSON.stringify(listen)}`);
  if (!path.isAbsolute(file) || file.includes("\0") || file.endsWith("/"))
    return err(
      `--listen must name an absolute socket path (unix:///run/errdefer/cri.sock), got ${JSON.stringify(listen)}`,
    );
  const bytes = Buffer.byteLength(file);
  if (bytes > MAX_SOCKET_PATH_BYTES)
    return err(`--listen: a unix socket path is at most ${MAX_SOCKET_PATH_BYTES} bytes, got ${bytes}`);
  return ok(path.normalize(file));
}

/** A socket file that cannot be replaced: live, or not a socket at all. */
export class SocketInUseError extends Error {
  override readonly name = "SocketInUseError";
  constructor(
    readonly file: string,
    why: string,
  ) {
    super(`cannot listen on ${file}: ${why}`);
  }
}

/** Whether a server accepts connections on the socket `file` (a refused or missing one: no). */
function listening(file: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path: file });
    const end = (answer: boolean | Error): void => {
      socket.destroy();
      if (answer instanceof Error) reject(answer);
      else resolve(answer);
    };
    socket.setTimeout(2000, () => end(true)); // accepted, as far as the kernel is concerned
    socket.once("connect", () => end(true));
    socket.once("error", (e: NodeJS.ErrnoException) =>
      end(e.code === "ECONNREFUSED" || e.code === "ENOENT" ? false : e),
    );
  });
}

/**
 * Makes `file` ready to bind: its directory is checked (created 0700 if missing), a stale socket
 * (no one listening: a killed server's) is removed, and anything else there is refused.
 */
export async function prepareSocket(file: string): Promise<void> {
  await ensurePrivateDir(path.dirname(file));
  const found = await lstat(file).catch((e: NodeJS.ErrnoException) =>
    e.code === "ENOENT" ? undefined : Promise.reject(e),
  );
  if (found === undefined) return;
  if (!found.isSocket()) throw new SocketInUseError(file, "it exists and is not a socket; refusing to replace it");
  if (await listening(file)) throw new SocketInUseError(file, "another server is listening on it");
  await unlink(file).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(e)));
}

/** Once bound: the socket made 0600; resolves to its inode, so that only this socket is removed later. */
export async function restrictSocket(file: string): Promise<number> {
  await chmod(file, SOCKET_MODE);
  return (await lstat(file)).ino;
}

/** Removes the socket `file` if it is still the one bound (inode `ino`); another's is left alone. */
export async function removeSocket(file: string, ino: number): Promise<void> {
  const found = await lstat(file).catch(() => undefined);
  if (found?.isSocket() === true && found.ino === ino) await unlink(file).catch(() => undefined);
}
