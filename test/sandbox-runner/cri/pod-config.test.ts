// The proto PodSandboxConfig maps to the runner's PodConfig by the CLI's own validation: the same
// config, as crictl's JSON file or as the message, gives the same PodConfig or the same errors.
import { create, fromJson, type JsonObject } from "@bufbuild/protobuf";
import { expect, test } from "vitest";
import { PodSandboxConfigSchema } from "../../../examples/sandbox-runner/cri/gen/api_pb.js";
import { podConfigFromProto } from "../../../examples/sandbox-runner/cri/pod-config.js";
import { parsePodConfig } from "../../../examples/sandbox-runner/pod-config.js";

/** A crictl pod config file, as the proto message. */
const message = (json: JsonObject) => fromJson(PodSandboxConfigSchema, json);

const full: JsonObject = {
  metadata: { name: "web", namespace: "default", uid: "u-1", attempt: 3 },
  hostname: "web-1",
  labels: { app: "web" },
  annotations: { note: "hi" },
  linux: { security_context: { namespace_options: { network: "NODE", pid: "CONTAINER" } } },
};

test("a full config maps to the same PodConfig as its JSON file", () => {
  const mapped = podConfigFromProto(message(full));
  expect(mapped._unsafeUnwrap()).toEqual({
    metadata: { name: "web", namespace: "default", uid: "u-1", attempt: 3 },
    hostname: "web-1",
    labels: { app: "web" },
    annotations: { note: "hi" },
    hostNetwork: true,
  });
  expect(mapped).toEqual(parsePodConfig(full));
});

test.each<[string, JsonObject]>([
  ["a name that is not a DNS label", { metadata: { name: "Web_1", namespace: "default" } }],
  ["no namespace", { metadata: { name: "web" } }],
  ["no metadata", {}],
  ["a hostname that is not a DNS name", { metadata: { name: "web", namespace: "default" }, hostname: "a b" }],
  ["a label with a control character", { metadata: { name: "web", namespace: "default" }, labels: { "a\u001b": "x" } }],
  ["port mappings", { metadata: { name: "web", namespace: "default" }, port_mappings: [{ container_port: 80 }] }],
  [
    "a user to run as",
    { metadata: { name: "web", namespace: "default" }, linux: { security_context: { run_as_user: { value: 1000 } } } },
  ],
  ["sysctls", { metadata: { name: "web", namespace: "default" }, linux: { sysctls: { "net.ipv4.ip_forward": "1" } } }],
  [
    "the host's ipc namespace",
    { metadata: { name: "web", namespace: "default" }, linux: { security_context: { namespace_options: { ipc: 2 } } } },
  ],
])("%s: refused as the CLI refuses it, naming the same field", (_what, json) => {
  const mapped = podConfigFromProto(message(json));
  expect(mapped.isErr()).toBe(true);
  const fromFile = parsePodConfig(json);
  expect(mapped._unsafeUnwrapErr().problems).toEqual(fromFile._unsafeUnwrapErr().problems);
  expect(mapped._unsafeUnwrapErr().message).toMatch(/^invalid pod config: /);
});

test("an absent config is an empty one: metadata is required", () => {
  expect(podConfigFromProto(undefined)._unsafeUnwrapErr().problems).toEqual([
    { field: "metadata", reason: "is required" },
  ]);
});

test("defaults are not set: an empty security context and POD network are accepted", () => {
  const mapped = podConfigFromProto(
    create(PodSandboxConfigSchema, {
      metadata: { name: "web", namespace: "default" },
      linux: { securityContext: { namespaceOptions: {} } },
    }),
  );
  expect(mapped._unsafeUnwrap()).toMatchObject({ hostNetwork: false, labels: {}, hostname: undefined });
});
