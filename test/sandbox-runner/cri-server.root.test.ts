// `sandbox-runner serve` driven over its unix socket by the in-repo CRI client: every method it
// implements against real namespaces, CNI and runc, CRI's semantics (id only when ready, Stop and
// Remove of unknown ids succeed, Remove stops first, one name at a time, bad configs refused with
// nothing made), 20 runs at once, UNIMPLEMENTED for the rest, the socket's mode, and the CLI refused
// while the server holds the state dir, working again once it stops.
import { statSync } from "node:fs";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ImageService, NamespaceMode, PodSandboxState } from "../../examples/sandbox-runner/cri/gen/api_pb.js";
import { unaryClient } from "../../examples/sandbox-runner/cri/grpc.js";
import { VERSION } from "../../examples/sandbox-runner/version.js";
import { laneSocket, pod, rejection, startServer, type CriClient, type CriServer } from "./support/cri.js";
import {
  describeSandbox,
  netnsAddresses,
  netnsNames,
  nothingHeld,
  runcStatus,
  SandboxEnv,
  show,
  type Lane,
} from "./support/sandbox.js";

describeSandbox("sandbox-runner serve: the CRI RuntimeService (root, over its socket)", () => {
  const env = new SandboxEnv(25);
  let lane: Lane;
  let server: CriServer;
  let client: CriClient;

  beforeAll(async () => {
    lane = env.lane();
    server = await startServer(lane);
    client = server.client;
  });
  afterAll(async () => {
    server.kill("SIGTERM");
    await server.done;
    server.client.close();
    expect(env.teardown()).toEqual([]);
  });

  test("Version: errdefer, our version, CRI v1; Status: runtime and network ready", async () => {
    expect(await client.version({ version: "v1" })).toMatchObject({
      runtimeName: "errdefer",
      runtimeVersion: VERSION,
      runtimeApiVersion: "v1",
    });
    const st = await client.status({ verbose: true });
    expect(st.status?.conditions.map((c) => [c.type, c.status])).toEqual([
      ["RuntimeReady", true],
      ["NetworkReady", true],
    ]);
    expect(JSON.parse(st.info.config!)).toMatchObject({ listen: server.listen, stateDir: lane.stateDir });
  });

  test("the socket is 0600 in a 0700 directory", () => {
    expect(statSync(server.socket).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(server.socket)).mode & 0o777).toBe(0o700);
  });

  test("run, status, list, stop, remove: a real netns, IP and pause process, then nothing", async () => {
    const config = pod("web", {
      labels: { app: "web", tier: "front" },
      annotations: { note: "hi" },
      hostname: "web-1",
    });
    const { podSandboxId: id } = await client.runPodSandbox({ config });
    expect(id).toMatch(/^[0-9a-f]{32}$/);

    const { status: st, info } = await client.podSandboxStatus({ podSandboxId: id, verbose: true });
    expect(st).toMatchObject({
      id,
      state: PodSandboxState.SANDBOX_READY,
      metadata: { name: "web", namespace: "default", uid: "uid-web", attempt: 0 },
      labels: { app: "web", tier: "front" },
      annotations: { note: "hi" },
      linux: { namespaces: { options: { network: NamespaceMode.POD } } },
    });
    const createdMs = Number(st!.createdAt / 1_000_000n);
    expect(Math.abs(createdMs - Date.now())).toBeLessThan(10 * 60_000);
    expect(st!.network!.ip.startsWith(`${env.subnetBase}.`)).toBe(true);
    expect(netnsAddresses(lane.netnsName(id))).toContain(`inet ${st!.network!.ip}/`);
    expect(runcStatus(lane.stateDir, id)).toBe("running");
    const more = JSON.parse(info.info!) as { steps: { step: string }[]; resources: { step: string }[] };
    expect(more.steps.map((s) => s.step)).toContain("cni-add");
    expect(more.resources.map((r) => r.step)).toContain("start-container");

    // By its id and a prefix of it; by state; by labels (all must match).
    const ids = async (filter: object) => (await client.listPodSandbox({ filter })).items.map((i) => i.id);
    expect(await ids({})).toEqual([id]);
    expect(await ids({ id: id.slice(0, 8) })).toEqual([id]);
    expect(await ids({ id: "0000" })).toEqual([]);
    expect(await ids({ state: { state: PodSandboxState.SANDBOX_NOTREADY } })).toEqual([]);
    expect(await ids({ labelSelector: { app: "web" } })).toEqual([id]);
    expect(await ids({ labelSelector: { app: "web", tier: "back" } })).toEqual([]);

    await client.stopPodSandbox({ podSandboxId: id });
    const stopped = await client.podSandboxStatus({ podSandboxId: id });
    expect(stopped.status?.state).toBe(PodSandboxState.SANDBOX_NOTREADY);
    expect(stopped.info).toEqual({});
    expect(netnsNames()).not.toContain(lane.netnsName(id));
    expect(await ids({ state: { state: PodSandboxState.SANDBOX_NOTREADY } })).toEqual([id]);

    await client.removePodSandbox({ podSandboxId: id });
    expect(await rejection(client.podSandboxStatus({ podSandboxId: id }))).toMatchObject({
      code: status.NOT_FOUND,
      details: expect.stringContaining(id) as unknown,
    });
    expect(lane.held()).toEqual(nothingHeld);
  });

  test("Stop and Remove of an unknown id succeed; an empty id is refused", async () => {
    await client.stopPodSandbox({ podSandboxId: "0123456789abcdef0123456789abcdef" });
    await client.removePodSandbox({ podSandboxId: "0123456789abcdef0123456789abcdef" });
    expect(await rejection(client.stopPodSandbox({ podSandboxId: "" }))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: "pod_sandbox_id: must not be empty",
    });
  });

  test("Remove of a running sandbox stops it first; host network has no netns", async () => {
    const host = pod("host", { linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } } });
    const { podSandboxId: id } = await client.runPodSandbox({ config: host });
    const { status: st } = await client.podSandboxStatus({ podSandboxId: id });
    expect(st).toMatchObject({ state: PodSandboxState.SANDBOX_READY, network: { ip: "" } });
    expect(st?.linux?.namespaces?.options?.network).toBe(NamespaceMode.NODE);
    expect(runcStatus(lane.stateDir, id)).toBe("running");
    await client.removePodSandbox({ podSandboxId: id });
    expect(lane.held()).toEqual(nothingHeld);
  });

  test("the same name, namespace, uid and attempt twice: ALREADY_EXISTS naming the holder", async () => {
    const { podSandboxId: id } = await client.runPodSandbox({ config: pod("twice") });
    const second = await rejection(client.runPodSandbox({ config: pod("twice") }));
    expect(second.code, second.details).toBe(status.ALREADY_EXISTS);
    expect(second.details).toContain(`reserved for sandbox ${id}`);
    expect((await client.listPodSandbox({})).items.map((i) => i.id)).toEqual([id]);
    await client.removePodSandbox({ podSandboxId: id });
    expect(lane.held()).toEqual(nothingHeld);
  });

  test.each<[string, object, string]>([
    ["no metadata", {}, "metadata: is required"],
    [
      "a name that is not a DNS label",
      { metadata: { name: "Web_1", namespace: "default" } },
      "metadata.name: must be a DNS label",
    ],
    [
      "port mappings",
      pod("ports", { portMappings: [{ containerPort: 80, hostPort: 8080 }] }),
      "port_mappings: is not supported by this runner",
    ],
    [
      "a user to run as",
      pod("user", { linux: { securityContext: { runAsUser: { value: 1000n } } } }),
      "linux.security_context.run_as_user: is not supported",
    ],
  ])("a bad config (%s): INVALID_ARGUMENT naming the field, nothing made", async (_what, config, field) => {
    const refused = await rejection(client.runPodSandbox({ config }));
    expect(refused.code, refused.details).toBe(status.INVALID_ARGUMENT);
    expect(refused.details).toContain(field);
    expect(lane.held()).toEqual(nothingHeld);
  });

  test("20 runs at once: 20 READY sandboxes with 20 IPs, then 20 removes leave nothing", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `many-${i}`);
    const ids = await Promise.all(
      names.map(async (name) => (await client.runPodSandbox({ config: pod(name) })).podSandboxId),
    );
    const items = (await client.listPodSandbox({})).items;
    expect(
      items
        .filter((i) => i.state === PodSandboxState.SANDBOX_READY)
        .map((i) => i.id)
        .sort(),
    ).toEqual([...ids].sort());
    const ips = await Promise.all(
      ids.map(async (id) => (await client.podSandboxStatus({ podSandboxId: id })).status!.network!.ip),
    );
    expect(new Set(ips).size).toBe(20);
    await Promise.all(ids.map((id) => client.removePodSandbox({ podSandboxId: id })));
    expect(lane.held()).toEqual(nothingHeld);
  });

  test("every other RuntimeService method answers UNIMPLEMENTED, naming it; so does the ImageService", async () => {
    const calls: [string, Promise<unknown>][] = [
      ["CreateContainer", client.createContainer({})],
      ["ListContainers", client.listContainers({})],
      ["PodSandboxStats", client.podSandboxStats({})],
      ["UpdateRuntimeConfig", client.updateRuntimeConfig({})],
      ["Exec", client.exec({})],
    ];
    for (const [name, call] of calls) {
      expect(await rejection(call)).toEqual({
        code: status.UNIMPLEMENTED,
        details: `runtime.v1.RuntimeService/${name} is not implemented by errdefer's sandbox runner`,
      });
    }
    // The ImageService is not served at all.
    const images = unaryClient(ImageService, server.listen);
    try {
      expect(await rejection(images.listImages({}))).toMatchObject({
        code: status.UNIMPLEMENTED,
        details: expect.stringContaining("runtime.v1.ImageService/ListImages") as unknown,
      });
    } finally {
      images.close();
    }
  });

  test("the CLI (and a second server) is refused at once while the server holds the state dir (ls still reads); after it stops, the CLI works", async () => {
    const { podSandboxId: id } = await client.runPodSandbox({ config: pod("left") });
    const refused = await lane.cli(["rm", id]);
    expect(refused.code, show(refused)).toBe(1);
    expect(refused.stderr).toContain(
      `is held by the CRI server (process ${server.pid}, listening on ${server.listen})`,
    );
    expect((await lane.ls()).map((s) => s.id)).toEqual([id]);
    const second = await lane.cli(["serve", "--listen", `unix://${laneSocket(env.lane())}`]);
    expect(second.code, show(second)).toBe(1);
    expect(second.stderr).toContain(`is held by the CRI server (process ${server.pid}`);

    const stopped = await server.stop();
    expect(stopped.code, show(stopped)).toBe(0);
    expect(() => statSync(server.socket)).toThrow(/ENOENT/);
    const rm = await lane.cli(["rm", id]);
    expect(rm.code, show(rm)).toBe(0);
    expect(lane.held()).toEqual(nothingHeld);
  });
});
