// pinNetwork (cni/pin.ts): a stored network description is used for a DEL only when it is the
// runner's network (name, plugin and IPAM types) and host-local works in the configured data dir;
// a stored chain that is not the configured one gives way to the configured one.
import { describe, expect, it } from "vitest";
import { pinNetwork, type CniNetworkList } from "../../../examples/sandbox-runner/cni/index.js";

const dataDir = "/var/lib/cni/networks";
const network = (over: { name?: string; dataDir?: string | undefined; ipam?: string; extra?: string }) =>
  ({
    cniVersion: "1.0.0",
    name: over.name ?? "errdefer",
    plugins: [
      {
        type: "bridge",
        bridge: "errdefer0",
        ipam: {
          type: over.ipam ?? "host-local",
          ranges: [[{ subnet: "10.209.0.0/16" }]],
          ...("dataDir" in over ? (over.dataDir === undefined ? {} : { dataDir: over.dataDir }) : { dataDir }),
        },
      },
      { type: over.extra ?? "loopback" },
    ],
  }) as CniNetworkList;

describe("pinNetwork", () => {
  const current = network({});

  it("accepts the configured network, and a data dir given as --cni-data-dir", () => {
    for (const [stored, cniDataDir] of [
      [network({}), dataDir],
      [network({ dataDir: "/srv/ipam" }), "/srv/ipam"],
      [network({ dataDir: "/srv/ipam/" }), "/srv/ipam"],
    ] as const) {
      expect(pinNetwork(stored, current, cniDataDir)._unsafeUnwrap()).toEqual({ network: stored, replaced: false });
    }
  });

  it.each([
    ["another plugin", network({ extra: "portmap" })],
    ["another IPAM type", network({ ipam: "dhcp" })],
  ])("runs the configured chain, never the stored one, for %s", (_what, stored) => {
    expect(pinNetwork(stored, current, dataDir)._unsafeUnwrap()).toEqual({ network: current, replaced: true });
  });

  it.each([
    ["another dataDir", network({ dataDir: "/etc" }), /host-local dataDir "\/etc" is not the CNI data dir/],
    ["a relative dataDir", network({ dataDir: "../../x" }), /host-local dataDir "..\/..\/x"/],
    ["host-local's default when we configured another", network({ dataDir: undefined }), /"\/var\/lib\/cni\/networks"/],
    ["another network name", network({ name: "other" }), /network "other" is not the configured "errdefer"/],
  ])("refuses %s", (_what, stored, reason) => {
    const configured = _what.startsWith("host-local's default") ? network({ dataDir: "/srv/ipam" }) : current;
    const cniDataDir = _what.startsWith("host-local's default") ? "/srv/ipam" : dataDir;
    expect(pinNetwork(stored, configured, cniDataDir)._unsafeUnwrapErr()).toMatch(reason);
  });
});
