// A started child process as the RunningProcess the batch driver talks to; both runners use it.
import type { ChildProcess } from "node:child_process";
import type { RunningProcess } from "./types.js";

/**
 * Wraps `child` (started with stdin and stderr piped). `exited` resolves, never rejects, with a
 * description of how it ended; the runner that started it knows how to tell.
 */
export function runningProcess(child: ChildProcess, exited: Promise<string>): RunningProcess {
  const { stdin, stderr } = child;
  let exitListener: ((description: string) => void) | undefined;
  let exitDescription: string | undefined;
  // EPIPE after the process died: its exit is what gets reported.
  stdin?.on("error", () => undefined);
  stderr?.setEncoding("utf8");
  void exited.then((description) => {
    exitDescription = description;
    exitListener?.(description);
  });
  // Pipes hold their own handles: ref/unref must reach them as well as the child.
  const handles = [stdin, stderr] as unknown as ({ ref?(): void; unref?(): void } | null)[];
  return {
    pid: child.pid,
    write(data) {
      if (stdin !== null && stdin.writable) stdin.write(data);
    },
    end() {
      stdin?.end();
    },
    kill(signal) {
      child.kill(signal);
    },
    onStderr(listener) {
      stderr?.on("data", listener);
    },
    onExit(listener) {
      exitListener = listener;
      if (exitDescription !== undefined) listener(exitDescription);
    },
    ref() {
      child.ref();
      for (const h of handles) h?.ref?.();
    },
    unref() {
      child.unref();
      for (const h of handles) h?.unref?.();
    },
  };
}

/** A process that could not be started: it reports that, once, to whoever listens for its exit. */
export function deadProcess(description: string): RunningProcess {
  return {
    pid: undefined,
    write() {},
    end() {},
    kill() {},
    onStderr() {},
    onExit(listener) {
      queueMicrotask(() => listener(description));
    },
    ref() {},
    unref() {},
  };
}
