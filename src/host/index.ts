// errdefer/host: the Linux host primitives errdefer's journal and adapters are built on, public so
// that stores and adapters of your own keep the same rules (private dirs, lock files, process
// identity that survives PID reuse). Never loads execa.
export { ensurePrivateDir, PrivateDirError, isPrivateDirError } from "../internal/private-dir.js";
export { takeLockFile, LockBusyError, isLockBusy } from "../internal/lock-file.js";
export type { TakeLockOptions } from "../internal/lock-file.js";
export { selfIdentity, isAlive } from "../internal/liveness.js";
export type { ProcessIdentity } from "../internal/liveness.js";
