// The CRI server's socket: the listen address, the checked directory, a stale socket replaced, a
// live one and a file that is not a socket refused.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import {
  prepareSocket,
  removeSocket,
  restrictSocket,
  SocketInUseError,
  socketPath,
} from "../../../examples/sandbox-runner/cri/socket.js";

const dir = mkdtempSync(path.join(tmpdir(), "edt-socket-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A socket file nobody listens on: its server was SIGKILLed. */
function staleSocket(file: string): void {
  const script = `require("net").createServer().listen(${JSON.stringify(file)}, () => process.kill(process.pid, "SIGKILL"))`;
  expect(spawnSync(process.execPath, ["-e", script]).signal).toBe("SIGKILL");
  expect(statSync(file).isSocket()).toBe(true);
}

test("the listen address must be unix:// and an absolute path that fits sun_path", () => {
  expect(socketPath("unix:///run/errdefer/cri.sock")._unsafeUnwrap()).toBe("/run/errdefer/cri.sock");
  expect(socketPath("/run/errdefer/cri.sock")._unsafeUnwrapErr()).toMatch(/--listen must be unix:\/\/\/ABSOLUTE\/PATH/);
  expect(socketPath("unix://relative.sock")._unsafeUnwrapErr()).toMatch(/absolute socket path/);
  expect(socketPath("tcp://127.0.0.1:1234")._unsafeUnwrapErr()).toMatch(/--listen must be unix/);
  expect(socketPath(`unix:///${"x".repeat(120)}`)._unsafeUnwrapErr()).toMatch(/at most 107 bytes, got 121/);
});

test("the socket's directory is made 0700; one others can write is refused", async () => {
  const file = path.join(dir, "made", "cri.sock");
  await prepareSocket(file);
  expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  const shared = path.join(dir, "shared");
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  await expect(prepareSocket(path.join(shared, "cri.sock"))).rejects.toThrow(/world-writable/);
});

test("a stale socket is replaced; a live one is refused; so is a file that is not a socket", async () => {
  const sockets = path.join(dir, "sockets");
  mkdirSync(sockets, { mode: 0o700 });
  const stale = path.join(sockets, "stale.sock");
  staleSocket(stale);
  await prepareSocket(stale);
  expect(existsSync(stale)).toBe(false);

  const live = path.join(sockets, "live.sock");
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(live, resolve));
  try {
    await expect(prepareSocket(live)).rejects.toThrow(SocketInUseError);
    await expect(prepareSocket(live)).rejects.toThrow(/another server is listening on it/);
    expect(statSync(live).isSocket()).toBe(true);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }

  const plain = path.join(sockets, "plain.sock");
  writeFileSync(plain, "keep me");
  await expect(prepareSocket(plain)).rejects.toThrow(/exists and is not a socket; refusing to replace it/);
  expect(existsSync(plain)).toBe(true);
});

test("once bound the socket is 0600, and only that socket is removed", async () => {
  const file = path.join(dir, "bound.sock");
  staleSocket(file);
  const ino = await restrictSocket(file);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  await removeSocket(file, ino + 1);
  expect(existsSync(file)).toBe(true);
  await removeSocket(file, ino);
  expect(existsSync(file)).toBe(false);
});
