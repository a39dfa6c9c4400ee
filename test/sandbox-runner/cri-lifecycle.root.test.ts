// The CRI server's lifecycle: a client's deadline or cancellation during RunPodSandbox rolls the
// run back; SIGKILL of the server mid-run, then a restart, recovers the run and replaces the stale
// socket; SIGTERM with runs in flight lets them finish within the grace period, or rolls them back
// after it, and removes the socket; a live socket is refused. Runs are held in flight
// deterministically by a delay failpoint at mark-ready (everything is acquired). Each test has a
// lane (state dir, prefix, socket) of its own, so they run at once.
import { existsSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { status } from "@grpc/grpc-js";
import { afterAll, expect, test } from "vitest";
import { eventually, pod, rejection, startServer } from "./support/cri.js";
import { describeSandbox, nothingHeld, runcContainers, SandboxEnv, show, type Lane } from "./support/sandbox.js";

/** Until `n` runs on `lane` hold a pause container (so they are at mark-ready, or about to be). */
const inFlight = (lane: Lane, n: number) =>
  eventually(() => runcContainers(lane.stateDir).length === n, `${n} pause container(s) on ${lane.stateDir}`);

describeSandbox("sandbox-runner serve: deadlines, SIGKILL and restart, SIGTERM (root)", () => {
  const env = new SandboxEnv(26);
  afterAll(() => {
    expect(env.teardown()).toEqual([]);
  });

  test.concurrent(
    "a client's cancellation or deadline during a run rolls it back; a live socket is refused",
    async ({ expect }) => {
      const lane = env.lane();
      const server = await startServer(lane, { failpoints: ["mark-ready=delay:60000"] });
      try {
        const controller = new AbortController();
        const cancelled = rejection(
          server.client.runPodSandbox({ config: pod("gone") }, { signal: controller.signal }),
        );
        await inFlight(lane, 1);
        controller.abort();
        expect(await cancelled).toMatchObject({ code: status.CANCELLED });
        const late = await rejection(server.client.runPodSandbox({ config: pod("late") }, { timeoutMs: 3000 }));
        expect(late).toMatchObject({ code: status.DEADLINE_EXCEEDED });
        // The client's answer comes at its deadline; the rollback ends after it (the name last).
        await eventually(
          async () =>
            (await server.client.listPodSandbox({})).items.length === 0 && isDeepStrictEqual(lane.held(), nothingHeld),
          "the rollbacks",
        );
        expect(lane.held()).toEqual(nothingHeld);

        // Another server on this socket (another state dir) is refused, and this one goes on.
        const other = env.lane();
        const onSocket = await other.cli(["serve", "--listen", server.listen]);
        expect(onSocket.code, show(onSocket)).toBe(1);
        expect(onSocket.stderr).toContain(`cannot listen on ${server.socket}: another server is listening on it`);
        expect(await server.client.version({})).toMatchObject({ runtimeName: "errdefer" });
        expect(other.held()).toEqual(nothingHeld);
      } finally {
        const stopped = await server.stop();
        expect(stopped.code, show(stopped)).toBe(0);
      }
      expect(lane.held()).toEqual(nothingHeld);
    },
  );

  test.concurrent(
    "a failed run answers UNKNOWN with the message the CLI prints for it, and leaves nothing",
    async ({ expect }) => {
      const lane = env.lane();
      const failing = ["start-container=error"];
      const server = await startServer(lane, { failpoints: failing });
      try {
        const failed = await rejection(server.client.runPodSandbox({ config: pod("fails") }));
        const cli = await env.lane().cli(["run", "--failpoint", failing[0]!, env.podConfig(pod("fails"))]);
        expect(cli.code, show(cli)).toBe(1);
        expect(failed.code, failed.details).toBe(status.UNKNOWN);
        expect(`sandbox-runner: ${failed.details}\n`).toBe(cli.stderr);
        expect(failed.details).toContain("injected failure at start-container");
        expect(lane.held()).toEqual(nothingHeld);
      } finally {
        const stopped = await server.stop();
        expect(stopped.code, show(stopped)).toBe(0);
      }
    },
  );

  test.concurrent(
    "SIGKILL of the server mid-run, then a restart: the stale socket is replaced, the runs recovered",
    async ({ expect }) => {
      const lane = env.lane();
      const killed = await startServer(lane, { failpoints: ["mark-ready=delay:60000"] });
      const runs = ["a", "b"].map((n) => rejection(killed.client.runPodSandbox({ config: pod(`killed-${n}`) })));
      await inFlight(lane, 2);
      killed.kill("SIGKILL");
      expect((await killed.done).signal).toBe("SIGKILL");
      for (const r of await Promise.all(runs)) expect(r.code).toBe(status.UNAVAILABLE);
      killed.client.close();
      expect(existsSync(killed.socket)).toBe(true);
      expect(lane.held().netns).toHaveLength(2);

      const restarted = await startServer(lane);
      try {
        expect((await restarted.client.listPodSandbox({})).items).toEqual([]);
        expect(lane.held()).toEqual(nothingHeld);
        // It serves: a run and its removal.
        const { podSandboxId: id } = await restarted.client.runPodSandbox({ config: pod("killed-a") });
        await restarted.client.removePodSandbox({ podSandboxId: id });
      } finally {
        const stopped = await restarted.stop();
        expect(stopped.code, show(stopped)).toBe(0);
        expect(stopped.stderr).toContain("recovered 2 transaction(s)");
      }
      expect(lane.held()).toEqual(nothingHeld);
    },
  );

  test.concurrent(
    "SIGTERM with runs in flight that end within the grace period: they finish, then the server stops",
    async ({ expect }) => {
      const lane = env.lane();
      const server = await startServer(lane, { failpoints: ["mark-ready=delay:2000"], gracePeriod: "60" });
      const runs = ["a", "b"].map((n) => server.client.runPodSandbox({ config: pod(`finish-${n}`) }));
      await inFlight(lane, 2);
      server.kill("SIGTERM");
      const ids = (await Promise.all(runs)).map((r) => r.podSandboxId);
      const ended = await server.done;
      server.client.close();
      expect(ended.code, show(ended)).toBe(0);
      expect(ended.stderr).toContain("SIGTERM: no new calls; 2 in flight");
      expect(existsSync(server.socket)).toBe(false);
      // They are READY, and the CLI has the state dir again.
      expect((await lane.ls()).map((s) => [s.id, s.state]).sort()).toEqual(ids.map((id) => [id, "READY"]).sort());
      for (const id of ids) {
        const rm = await lane.cli(["rm", id]);
        expect(rm.code, show(rm)).toBe(0);
      }
      expect(lane.held()).toEqual(nothingHeld);
    },
  );

  test.concurrent(
    "SIGTERM with runs that outlast the grace period: they are rolled back and answer UNAVAILABLE",
    async ({ expect }) => {
      const lane = env.lane();
      const server = await startServer(lane, { failpoints: ["mark-ready=delay:60000"], gracePeriod: "1" });
      const runs = ["a", "b"].map((n) => rejection(server.client.runPodSandbox({ config: pod(`outlast-${n}`) })));
      await inFlight(lane, 2);
      server.kill("SIGTERM");
      for (const r of await Promise.all(runs)) {
        expect(r.code, r.details).toBe(status.UNAVAILABLE);
        expect(r.details).toContain("the CRI server is shutting down (grace period over)");
      }
      const ended = await server.done;
      server.client.close();
      expect(ended.code, show(ended)).toBe(0);
      expect(existsSync(server.socket)).toBe(false);
      expect(lane.held()).toEqual(nothingHeld);
    },
  );
});
