// The sandbox runner's runc module: the shared rootfs, the pause bundle, and the runc lifecycle.
export { ensureRootfs, BUSYBOX } from "./rootfs.js";
export { writeBundle, pauseConfig } from "./bundle.js";
export type { BundleSpec } from "./bundle.js";
export { createRunc } from "./runc.js";
export type { ContainerState, Runc } from "./runc.js";
export { RuncError } from "./errors.js";
export type { RuncOperation } from "./errors.js";
