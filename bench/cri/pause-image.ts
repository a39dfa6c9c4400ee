// The sandbox image containerd needs, made without a registry: one layer holding the static
// busybox, whose entrypoint sleeps until it is killed (containerd stops a sandbox with SIGKILL),
// in the docker-archive layout `ctr images import` reads (manifest.json, config, layer tar).
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { must } from "../shell.js";

export const BUSYBOX = "/bin/busybox";
export const PAUSE_IMAGE = "localhost/errdefer-bench/pause:busybox";

/** Builds the image archive under `dir`; returns its path. */
export async function buildPauseImage(dir: string): Promise<string> {
  const rootfs = path.join(dir, "rootfs");
  const out = path.join(dir, "archive");
  await mkdir(path.join(rootfs, "bin"), { recursive: true });
  await mkdir(out, { recursive: true });
  await copyFile(BUSYBOX, path.join(rootfs, "bin", "busybox"));
  const layer = path.join(out, "layer.tar");
  await must(["tar", "--numeric-owner", "--owner=0", "--group=0", "-C", rootfs, "-cf", layer, "."]);
  const diffId = createHash("sha256")
    .update(await readFile(layer))
    .digest("hex");
  const config = {
    architecture: process.arch === "x64" ? "amd64" : process.arch,
    os: "linux",
    config: { Entrypoint: ["/bin/busybox", "sleep", "2147483647"], WorkingDir: "/" },
    rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
  };
  await writeFile(path.join(out, "config.json"), JSON.stringify(config));
  await writeFile(
    path.join(out, "manifest.json"),
    JSON.stringify([{ Config: "config.json", RepoTags: [PAUSE_IMAGE], Layers: ["layer.tar"] }]),
  );
  const archive = path.join(dir, "pause.tar");
  await must(["tar", "-C", out, "-cf", archive, "manifest.json", "config.json", "layer.tar"]);
  return archive;
}
