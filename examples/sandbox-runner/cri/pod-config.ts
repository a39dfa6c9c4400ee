// RunPodSandbox's config arrives as the proto PodSandboxConfig message; the runner's own PodConfig
// is made from it here, and only here, by the CLI's own validation: the message is turned into the
// JSON a crictl pod config file holds (proto field names, enums by name, defaults left out) and
// given to parsePodConfig, so a bad config is refused naming the same field, for the same reason,
// whether it came from a file or over gRPC.
import { toJson } from "@bufbuild/protobuf";
import type { Result } from "neverthrow";
import { parsePodConfig, type ConfigError, type PodConfig } from "../pod-config.js";
import { PodSandboxConfigSchema, type PodSandboxConfig } from "./gen/api_pb.js";

/**
 * The runner's config for a RunPodSandbox request's `config`; an absent one is an empty config
 * (so: `metadata: is required`). A ConfigError names each field at fault.
 */
export function podConfigFromProto(config: PodSandboxConfig | undefined): Result<PodConfig, ConfigError> {
  const json = config === undefined ? {} : toJson(PodSandboxConfigSchema, config, { useProtoFieldName: true });
  return parsePodConfig(json);
}
