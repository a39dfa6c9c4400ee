// The bridge between the generated CRI descriptors and grpc-js, over a real unix socket: typed
// handlers answer, methods without one answer UNIMPLEMENTED, a StatusError keeps its code, and a
// client cancellation aborts the handler's signal.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, test } from "vitest";
import { RuntimeService } from "../../../examples/sandbox-runner/cri/gen/api_pb.js";
import {
  serviceDefinition,
  serviceImplementation,
  StatusError,
  unaryClient,
  type UnaryClient,
} from "../../../examples/sandbox-runner/cri/grpc.js";

let dir: string;
let server: grpc.Server;
let client: UnaryClient<(typeof RuntimeService)["method"]>;
let cancelled: Promise<unknown>;
let expired: Promise<unknown>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edt-grpc-"));
  let sawAbort!: (reason: unknown) => void;
  cancelled = new Promise((resolve) => (sawAbort = resolve));
  let sawDeadline!: (reason: unknown) => void;
  expired = new Promise((resolve) => (sawDeadline = resolve));
  server = new grpc.Server();
  server.addService(
    serviceDefinition(RuntimeService),
    serviceImplementation(RuntimeService, {
      version: async (request) => ({ version: request.version, runtimeName: "test", runtimeApiVersion: "v1" }),
      stopPodSandbox: async (request) => {
        throw new StatusError(grpc.status.NOT_FOUND, `no sandbox ${request.podSandboxId}`);
      },
      removePodSandbox: (_request, call) =>
        new Promise((_resolve, reject) =>
          call.signal.addEventListener("abort", () => {
            sawAbort(call.signal.reason);
            reject(call.signal.reason as Error);
          }),
        ),
      podSandboxStatus: (_request, call) =>
        new Promise((_resolve, reject) =>
          call.signal.addEventListener("abort", () => {
            sawDeadline(call.signal.reason);
            reject(call.signal.reason as Error);
          }),
        ),
    }),
  );
  const target = `unix://${join(dir, "cri.sock")}`;
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  client = unaryClient(RuntimeService, target);
});

afterAll(async () => {
  client.close();
  server.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

test("a typed handler answers with the message it returns", async () => {
  const response = await client.version({ version: "v1" });
  expect(response).toMatchObject({ version: "v1", runtimeName: "test", runtimeApiVersion: "v1" });
});

test("a method without a handler answers UNIMPLEMENTED naming itself", async () => {
  await expect(client.listContainers({})).rejects.toMatchObject({
    code: grpc.status.UNIMPLEMENTED,
    details: expect.stringContaining("runtime.v1.RuntimeService/ListContainers") as unknown,
  });
});

test("a StatusError keeps its code and message", async () => {
  await expect(client.stopPodSandbox({ podSandboxId: "abc" })).rejects.toMatchObject({
    code: grpc.status.NOT_FOUND,
    details: "no sandbox abc",
  });
});

test("a client cancellation aborts the handler's signal", async () => {
  const controller = new AbortController();
  const call = client.removePodSandbox({ podSandboxId: "x" }, { signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  await expect(call).rejects.toMatchObject({ code: grpc.status.CANCELLED });
  expect(await cancelled).toBeInstanceOf(StatusError);
});

test("the client's deadline aborts the handler's signal with DEADLINE_EXCEEDED", async () => {
  await expect(client.podSandboxStatus({ podSandboxId: "x" }, { timeoutMs: 200 })).rejects.toMatchObject({
    code: grpc.status.DEADLINE_EXCEEDED,
  });
  expect(await expired).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
});
