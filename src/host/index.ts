// errdefer/host: the Linux host primitives errdefer's journal and adapters are built on, public so
// that stores and adapters of your own keep the same rules (private dirs, lock files, process
// identity that survives PID reuse). Never loads execa.
export { ensurePrivateDir, PrivateDirError, isPrivateDirError } from "../internal/private-dir.js";
export { takeLockFile, LockBusyError, isLockBusy, lockHolderFile } from "../internal/lock-file.js";
export type { LockRelease, TakeLockOptions } from "../internal/lock-file.js";
export { selfIdentity, isAlive, placeOf } from "../internal/liveness.js";
export type { ProcessIdentity, ProcessPlace, ForeignPidNamespaces, LivenessOptions } from "../internal/liveness.js";
// Starting processes: one contract (argv arrays only, an output limit, a timeout, kill on abort,
// no rejections). spawnRunner is the node:child_process implementation; the execa one is
// errdefer/netns's execaRunner, kept out of here so that this entry never loads execa.
export { spawnRunner } from "../internal/command/spawn-runner.js";
export { traceCommands } from "../internal/command/trace.js";
export { DEFAULT_KILL_GRACE_MS, DEFAULT_MAX_OUTPUT_BYTES } from "../internal/command/types.js";
export type {
  Argv,
  CommandResult,
  CommandRunner,
  RunFailure,
  RunFailureReason,
  RunOptions,
  RunnerDefaults,
  RunningProcess,
} from "../internal/command/types.js";
// Writing a file whole or not at all, with a stated durability (see writeAtomic's contract).
export { writeAtomic, syncDir } from "../internal/atomic-write.js";
export type { Durability, WriteAtomicOptions } from "../internal/atomic-write.js";
