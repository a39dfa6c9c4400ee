// The sandbox runner's runc module: the shared rootfs, the pause bundle, and the runc lifecycle.
export { ensureRootfs, BUSYBOX } from "./rootfs.js";
export { writeBundle, pauseConfig, bundleSpecProblem, PAUSE_ARGS } from "./bundle.js";
export type { BundleSpec } from "./bundle.js";
export { createRunc } from "./runc.js";
export { removeCreateLeftovers } from "./leftovers.js";
export type { ContainerState, ContainerStatus, Runc, RuncOptions, WaitOptions } from "./runc.js";
export { RuncError, isRuncError } from "./errors.js";
export type { RuncErrorInit, RuncOperation } from "./errors.js";
export { CONTAINER_ID, HOSTNAME_MAX, containerIdProblem, hostnameProblem } from "./validate.js";
