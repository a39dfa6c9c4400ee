// The mapping from sandbox records to CRI messages and to crictl's JSON: states, nanosecond
// timestamps, metadata, maps, network and namespace options, and the verbose info.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { expect, test } from "vitest";
import {
  ListPodSandboxResponseSchema,
  NamespaceMode,
  PodSandboxState,
} from "../../../examples/sandbox-runner/cri/gen/api_pb.js";
import {
  createdAtNs,
  inspectpJson,
  listPodSandboxResponse,
  podsJson,
  podSandbox,
  podSandboxStatus,
  podSandboxStatusResponse,
  rfc3339Nano,
  sandboxInfo,
} from "../../../examples/sandbox-runner/cri/shapes.js";
import type { SandboxRecord } from "../../../examples/sandbox-runner/store.js";
import { CRI_API_VERSION, RUNTIME_NAME, VERSION } from "../../../examples/sandbox-runner/version.js";
import pkg from "../../../package.json" with { type: "json" };

const record: SandboxRecord = {
  v: 1,
  id: "0123456789abcdef01234567deadbeef",
  name: "web",
  namespace: "default",
  uid: "uid-1",
  attempt: 2,
  state: "READY",
  createdAt: "2026-11-29T14:35:00.123Z",
  hostNetwork: false,
  netnsPath: "/var/run/netns/errdefer-0123456789abcdef01234567deadbeef",
  ip: "10.209.0.5",
  hostname: "web-host",
  labels: { app: "web" },
  annotations: { "example.com/note": "a note" },
  resources: [{ step: "create-netns", kind: "netns", guard: true, description: { dir: "/var/run/netns", name: "x" } }],
  steps: [{ step: "create-netns", status: "ok", durationMs: 2.5, at: "2026-11-29T14:35:00.125Z" }],
  error: null,
};

test("version: errdefer, the package's version, CRI v1", () => {
  expect({ RUNTIME_NAME, VERSION, CRI_API_VERSION }).toEqual({
    RUNTIME_NAME: "errdefer",
    VERSION: pkg.version,
    CRI_API_VERSION: "v1",
  });
});

test("a READY record is SANDBOX_READY, anything else SANDBOX_NOTREADY", () => {
  expect(podSandbox(record).state).toBe(PodSandboxState.SANDBOX_READY);
  expect(podSandbox({ ...record, state: "NOTREADY" }).state).toBe(PodSandboxState.SANDBOX_NOTREADY);
});

test("created_at is in nanoseconds; an unreadable time is 0", () => {
  expect(createdAtNs(record)).toBe(1_795_962_900_123_000_000n);
  expect(createdAtNs({ createdAt: "yesterday" })).toBe(0n);
});

test("a PodSandbox carries the id, metadata, labels and annotations", () => {
  expect(podSandbox(record)).toMatchObject({
    id: record.id,
    metadata: { name: "web", namespace: "default", uid: "uid-1", attempt: 2 },
    labels: { app: "web" },
    annotations: { "example.com/note": "a note" },
    runtimeHandler: "",
  });
});

test("the status has the IP and the namespace options: POD, or NODE for host network", () => {
  const status = podSandboxStatus(record);
  expect(status.network?.ip).toBe("10.209.0.5");
  expect(status.linux?.namespaces?.options).toMatchObject({
    network: NamespaceMode.POD,
    pid: NamespaceMode.POD,
    ipc: NamespaceMode.POD,
  });
  const host = podSandboxStatus({ ...record, hostNetwork: true, ip: null, netnsPath: null });
  expect(host.network?.ip).toBe("");
  expect(host.linux?.namespaces?.options?.network).toBe(NamespaceMode.NODE);
});

test("verbose adds the info (netns, resources, step log, error) as JSON under `info`; otherwise no info", () => {
  const verbose = podSandboxStatusResponse(record, true);
  expect(JSON.parse(verbose.info.info!)).toEqual({
    netnsPath: record.netnsPath,
    hostNetwork: false,
    hostname: "web-host",
    resources: record.resources,
    steps: record.steps,
    error: null,
  });
  expect(sandboxInfo(record).resources).toBe(record.resources);
  expect(podSandboxStatusResponse(record, false).info).toEqual({});
  expect(verbose.status?.id).toBe(record.id);
});

test("the messages survive the wire", () => {
  const response = listPodSandboxResponse([record, { ...record, id: "f".repeat(32), state: "NOTREADY" }]);
  const back = fromBinary(ListPodSandboxResponseSchema, toBinary(ListPodSandboxResponseSchema, response));
  expect(back.items.map((i) => [i.id, i.state, i.createdAt])).toEqual([
    [record.id, PodSandboxState.SANDBOX_READY, 1_795_962_900_123_000_000n],
    ["f".repeat(32), PodSandboxState.SANDBOX_NOTREADY, 1_795_962_900_123_000_000n],
  ]);
});

test("crictl pods -o json: {items}, camelCase, every field, enums by name, int64 as a string", () => {
  expect(podsJson([record])).toEqual({
    items: [
      {
        id: record.id,
        metadata: { name: "web", uid: "uid-1", namespace: "default", attempt: 2 },
        state: "SANDBOX_READY",
        createdAt: "1795962900123000000",
        labels: { app: "web" },
        annotations: { "example.com/note": "a note" },
        runtimeHandler: "",
      },
    ],
  });
  expect(podsJson([])).toEqual({ items: [] });
});

test("crictl inspectp -o json: {status, info}, createdAt as RFC 3339; without verbose, no info", () => {
  const shown = inspectpJson(record);
  expect(shown.status).toMatchObject({
    id: record.id,
    state: "SANDBOX_READY",
    createdAt: "2026-11-29T14:35:00.123Z",
    network: { ip: "10.209.0.5", additionalIps: [] },
    linux: { namespaces: { options: { network: "POD", pid: "POD", ipc: "POD", targetId: "" } } },
    labels: { app: "web" },
  });
  expect(shown.info).toMatchObject({ netnsPath: record.netnsPath, steps: record.steps, error: null });
  expect(Object.keys(inspectpJson(record, false))).toEqual(["status"]);
});

test("RFC3339Nano drops trailing zeros of the fraction, and a zero fraction", () => {
  expect(rfc3339Nano(1_795_962_900_100_000_000n)).toBe("2026-11-29T14:35:00.1Z");
  expect(rfc3339Nano(1_795_962_900_000_000_000n)).toBe("2026-11-29T14:35:00Z");
  expect(rfc3339Nano(1_795_962_900_000_000_007n)).toBe("2026-11-29T14:35:00.000000007Z");
});
