// The one mapping from the runner's sandbox records to CRI's messages: what ListPodSandbox and
// PodSandboxStatus answer, and what `crictl pods -o json` / `crictl inspectp -o json` print of
// them. The CRI server and the CLI both take their shapes from here.
import { create, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import type { HeldResource } from "errdefer";
import type { SandboxRecord, StepLogEntry } from "../store.js";
import {
  ListPodSandboxResponseSchema,
  NamespaceMode,
  PodSandboxMetadataSchema,
  PodSandboxSchema,
  PodSandboxState,
  PodSandboxStatusResponseSchema,
  PodSandboxStatusSchema,
  type ListPodSandboxResponse,
  type PodSandbox,
  type PodSandboxMetadata,
  type PodSandboxStatus,
  type PodSandboxStatusResponse,
} from "./gen/api_pb.js";

/** CRI's state of a record: READY is SANDBOX_READY, anything else (a run rolled back part-way) SANDBOX_NOTREADY. */
export function sandboxState(record: Pick<SandboxRecord, "state">): PodSandboxState {
  return record.state === "READY" ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
}

/** A record's creation time in nanoseconds since the epoch (CRI's `created_at`); 0 if unreadable. */
export function createdAtNs(record: Pick<SandboxRecord, "createdAt">): bigint {
  const ms = Date.parse(record.createdAt);
  return Number.isFinite(ms) ? BigInt(ms) * 1_000_000n : 0n;
}

function metadata(record: SandboxRecord): PodSandboxMetadata {
  const { name, namespace, uid, attempt } = record;
  return create(PodSandboxMetadataSchema, { name, namespace, uid, attempt });
}

/** ListPodSandbox's item for a record. */
export function podSandbox(record: SandboxRecord): PodSandbox {
  return create(PodSandboxSchema, {
    id: record.id,
    metadata: metadata(record),
    state: sandboxState(record),
    createdAt: createdAtNs(record),
    labels: { ...record.labels },
    annotations: { ...record.annotations },
  });
}

/** ListPodSandbox's response for `records` (in their order). */
export function listPodSandboxResponse(records: readonly SandboxRecord[]): ListPodSandboxResponse {
  return create(ListPodSandboxResponseSchema, { items: records.map(podSandbox) });
}

/**
 * PodSandboxStatus's status of a record. The namespace options are what the sandbox has: its own
 * network namespace (POD) or the host's (NODE, host network), and its own pid and ipc namespaces
 * (the pause container's: POD).
 */
export function podSandboxStatus(record: SandboxRecord): PodSandboxStatus {
  return create(PodSandboxStatusSchema, {
    id: record.id,
    metadata: metadata(record),
    state: sandboxState(record),
    createdAt: createdAtNs(record),
    network: { ip: record.ip ?? "" },
    linux: {
      namespaces: {
        options: {
          network: record.hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
          pid: NamespaceMode.POD,
          ipc: NamespaceMode.POD,
        },
      },
    },
    labels: { ...record.labels },
    annotations: { ...record.annotations },
  });
}

/** What `verbose` adds (as containerd, under the info key `info`, as JSON): where it lives, what it holds, how it got there. */
export interface SandboxInfo {
  readonly netnsPath: string | null;
  readonly hostNetwork: boolean;
  readonly hostname: string | null;
  /** What the sandbox holds, as stop / rm will release it. */
  readonly resources: readonly HeldResource[];
  /** The step log of its run (and of a stop / rm that left something). */
  readonly steps: readonly StepLogEntry[];
  /** The last failure, when a rollback or a stop / rm left something behind. */
  readonly error: string | null;
}

export function sandboxInfo(record: SandboxRecord): SandboxInfo {
  const { netnsPath, hostNetwork, hostname, resources, steps, error } = record;
  return { netnsPath, hostNetwork, hostname, resources, steps, error };
}

/** PodSandboxStatus's response; with `verbose`, `info` holds `{"info": JSON of sandboxInfo}`. */
export function podSandboxStatusResponse(record: SandboxRecord, verbose: boolean): PodSandboxStatusResponse {
  return create(PodSandboxStatusResponseSchema, {
    status: podSandboxStatus(record),
    info: verbose ? { info: JSON.stringify(sandboxInfo(record)) } : {},
    timestamp: BigInt(Date.now()) * 1_000_000n,
  });
}

/** protobuf JSON as crictl prints it (Go's jsonpb with EmitDefaults): camelCase names, every field, enums by name. */
const CRICTL_JSON = { alwaysEmitImplicit: true } as const;

/** `crictl pods -o json`: the ListPodSandboxResponse, `{"items": [...]}`. */
export function podsJson(records: readonly SandboxRecord[]): JsonValue {
  return toJson(ListPodSandboxResponseSchema, listPodSandboxResponse(records), CRICTL_JSON);
}

/**
 * `crictl inspectp -o json`: `{"status": ..., "info": ...}`, the status with `createdAt` as an
 * RFC 3339 time (crictl rewrites it so; in UTC here), `info` only when `verbose` (crictl's default).
 */
export function inspectpJson(record: SandboxRecord, verbose = true): JsonObject {
  const status = toJson(PodSandboxStatusSchema, podSandboxStatus(record), CRICTL_JSON) as JsonObject;
  const shown: JsonObject = { status: { ...status, createdAt: rfc3339Nano(createdAtNs(record)) } };
  if (verbose) shown.info = JSON.parse(JSON.stringify(sandboxInfo(record))) as JsonObject;
  return shown;
}

/** Go's RFC3339Nano in UTC: the fraction of a second without trailing zeros, none if zero. */
export function rfc3339Nano(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}${fraction === "" ? "" : `.${fraction}`}Z`;
}
