// The RuntimeService handlers over a stand-in runner: ListPodSandbox's filter, NetworkReady, what a
// bad request never reaches, and how the runner's failures map to gRPC codes.
import { create } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { err, ok } from "neverthrow";
import { describe, expect, test } from "vitest";
import {
  PodSandboxFilterSchema,
  PodSandboxState,
  RunPodSandboxRequestSchema,
  StatusRequestSchema,
} from "../../../examples/sandbox-runner/cri/gen/api_pb.js";
import type { CallContext } from "../../../examples/sandbox-runner/cri/grpc.js";
import { filtered, runtimeService } from "../../../examples/sandbox-runner/cri/service.js";
import { NameTakenError } from "../../../examples/sandbox-runner/resources.js";
import { OperationFailedError, type Runner } from "../../../examples/sandbox-runner/runner/index.js";
import type { SandboxRecord } from "../../../examples/sandbox-runner/store.js";

const record = (id: string, state: SandboxRecord["state"], labels: Record<string, string>) =>
  ({ id, state, labels }) as unknown as SandboxRecord;

const records = [
  record("aaaa0000", "READY", { app: "web", tier: "front" }),
  record("aaaa1111", "NOTREADY", { app: "web" }),
  record("bbbb0000", "READY", { app: "db" }),
];

describe("ListPodSandbox's filter", () => {
  const ids = (filter: Parameters<typeof create<typeof PodSandboxFilterSchema>>[1]) =>
    filtered(records, create(PodSandboxFilterSchema, filter)).map((r) => r.id);

  test("none, or an empty one: every sandbox", () => {
    expect(filtered(records, undefined)).toHaveLength(3);
    expect(ids({})).toHaveLength(3);
  });

  test("id (a prefix), state and labels, ANDed", () => {
    expect(ids({ id: "aaaa" })).toEqual(["aaaa0000", "aaaa1111"]);
    expect(ids({ state: { state: PodSandboxState.SANDBOX_NOTREADY } })).toEqual(["aaaa1111"]);
    expect(ids({ labelSelector: { app: "web" } })).toEqual(["aaaa0000", "aaaa1111"]);
    expect(ids({ labelSelector: { app: "web", tier: "front" } })).toEqual(["aaaa0000"]);
    expect(ids({ id: "aaaa", state: { state: PodSandboxState.SANDBOX_READY }, labelSelector: { app: "db" } })).toEqual(
      [],
    );
  });
});

/** A runner that answers `network` and `run` as told, and fails the test on anything else. */
function standIn(answers: { network?: unknown; run?: unknown }): Runner {
  return {
    config: { cniBinDir: "/nonexistent", layout: { root: "/state" } },
    network: async () => answers.network,
    run: async () => {
      if (answers.run === undefined) throw new Error("run was called");
      return answers.run;
    },
  } as unknown as Runner;
}

const call: CallContext = {
  signal: new AbortController().signal,
  deadline: Infinity,
  metadata: undefined as never,
  peer: "test",
};
const shutdown = new AbortController().signal;

test("NetworkReady is false, with the reason, when the CNI configuration cannot be loaded", async () => {
  const service = runtimeService(standIn({ network: err(new Error("no conflist in /etc/cni")) }), {
    listen: "unix:///x",
    shutdown,
  });
  const response = await service.status!(create(StatusRequestSchema, {}), call);
  expect(response.status?.conditions).toEqual([
    { type: "RuntimeReady", status: true },
    { type: "NetworkReady", status: false, reason: "NetworkPluginNotReady", message: "no conflist in /etc/cni" },
  ]);
});

test("a bad config or a runtime handler other than the default never reaches the runner", async () => {
  const service = runtimeService(standIn({}), { listen: "unix:///x", shutdown });
  const bad = create(RunPodSandboxRequestSchema, { config: { metadata: { name: "Web", namespace: "default" } } });
  await expect(service.runPodSandbox!(bad, call)).rejects.toMatchObject({
    code: status.INVALID_ARGUMENT,
    message: expect.stringContaining("metadata.name: must be a DNS label") as unknown,
  });
  const handler = create(RunPodSandboxRequestSchema, {
    config: { metadata: { name: "web", namespace: "default" } },
    runtimeHandler: "runc",
  });
  await expect(service.runPodSandbox!(handler, call)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
});

test("a run that lost the sandbox name is ALREADY_EXISTS; another failure UNKNOWN, with the CLI's message", async () => {
  const taken = new OperationFailedError("run pod sandbox", "taken", {
    cause: { cause: new NameTakenError("web_default__0", "f".repeat(32)) },
  });
  const request = create(RunPodSandboxRequestSchema, { config: { metadata: { name: "web", namespace: "default" } } });
  await expect(
    runtimeService(standIn({ run: err(taken) }), { listen: "unix:///x", shutdown }).runPodSandbox!(request, call),
  ).rejects.toMatchObject({ code: status.ALREADY_EXISTS, message: "failed to run pod sandbox: taken" });
  const failed = new OperationFailedError("run pod sandbox", "CNI ADD failed", { cause: undefined });
  await expect(
    runtimeService(standIn({ run: err(failed) }), { listen: "unix:///x", shutdown }).runPodSandbox!(request, call),
  ).rejects.toMatchObject({ code: status.UNKNOWN, message: "failed to run pod sandbox: CNI ADD failed" });
  const ready = ok({ id: "c".repeat(32) });
  expect(
    await runtimeService(standIn({ run: ready }), { listen: "unix:///x", shutdown }).runPodSandbox!(request, call),
  ).toEqual({ podSandboxId: "c".repeat(32) });
});
