// A segment's file name says whose it is: the writer's PID and start time, and where that PID
// means something (its PID namespace and its boot), so that recovery can tell a dead writer from
// one it cannot see.
//
//   <pid>-<start time>-ns<PID namespace inode>-boot<boot id, 32 hex>-<8 random hex>.jsonl
//   <pid>-<start time>-<8 random hex>.jsonl      (errdefer 0.1, or a kernel that says neither:
//                                                 read as the reader's namespace and boot)
import { randomBytes } from "node:crypto";
import type { ProcessIdentity } from "../internal/liveness.js";

const WITH_PLACE = /^(\d+)-(\d+)-ns(\d+)-boot([0-9a-f]{32})-([0-9a-f]{8})\.jsonl$/;
const PLAIN = /^(\d+)-(\d+)-([0-9a-f]{8})\.jsonl$/;

/** The name of a new segment of `writer` (a random part keeps two journals of one process apart). */
export function segmentName(writer: ProcessIdentity, random = randomBytes(4).toString("hex")): string {
  const boot = writer.bootId?.replace(/-/g, "").toLowerCase();
  if (writer.pidNamespace === undefined || boot === undefined || !/^[0-9a-f]{32}$/.test(boot))
    return `${writer.pid}-${writer.startTime}-${random}.jsonl`;
  return `${writer.pid}-${writer.startTime}-ns${writer.pidNamespace}-boot${boot}-${random}.jsonl`;
}

/** The writer a segment's file name names, or undefined when `name` is not a segment's. */
export function parseSegmentName(name: string): ProcessIdentity | undefined {
  const full = WITH_PLACE.exec(name);
  if (full !== null) {
    const [, pid, startTime, pidNamespace, boot] = full as unknown as [string, string, string, string, string];
    const bootId = `${boot.slice(0, 8)}-${boot.slice(8, 12)}-${boot.slice(12, 16)}-${boot.slice(16, 20)}-${boot.slice(20)}`;
    return { pid: Number(pid), startTime, pidNamespace, bootId };
  }
  const plain = PLAIN.exec(name);
  return plain === null ? undefined : { pid: Number(plain[1]), startTime: plain[2]! };
}
