// errdefer/netns: real Linux network namespaces, created, used, removed and swept.
export { createNetns, loadNetns, defaultDriver, Netns } from "./netns.js";
export type { CreateNetnsOptions, LoadNetnsOptions, RemoveOptions, ExecOptions, ExecResult } from "./netns.js";
export { listNetns } from "./list.js";
export type { ListNetnsOptions } from "./list.js";
export { sweepNetns } from "./sweep.js";
export type { SweepNetnsOptions, SweepReport } from "./sweep.js";
export { acquireNetns } from "./acquire.js";
export type { AcquireNetnsOptions } from "./acquire.js";
export { NetnsError, isNetnsError } from "./errors.js";
export type { NetnsErrorCode, NetnsErrorInit, NetnsOperation } from "./errors.js";
export { createBatchDriver, BatchDriver } from "./driver-batch.js";
export type { BatchDriverOptions } from "./driver-batch.js";
export { createProcessDriver } from "./driver-process.js";
export type { ProcessDriverOptions } from "./driver-process.js";
export type { NetnsDriver, IpOutcome } from "./driver.js";
// The command runner contract lives in errdefer/host; netns re-exports it with its execa runner.
export { execaRunner } from "../internal/command/execa-runner.js";
export type {
  Argv,
  CommandRunner,
  CommandResult,
  RunFailure,
  RunFailureReason,
  RunOptions,
  RunningProcess,
} from "../internal/command/types.js";
export { netnsAdapter } from "./adapter.js";
export type { NetnsAdapterOptions, NetnsDescription, NetnsSpec } from "./adapter.js";
