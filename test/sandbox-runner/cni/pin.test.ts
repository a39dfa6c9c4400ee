// unpinnedProblem (cni/pin.ts): a stored network description is used for a DEL only when it is the
// runner's network (name, plugin and IPAM types) and host-local works in the configured data dir.
import { describe, expect, it } from "vitest";
import { unpinnedProblem, type CniNetworkList } from "../../../examples/sandbox-runner/cni/index.js";

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

describe("unpinnedProblem", () => {
  const current = network({});

  it("accepts the configured network, and a data dir given as --cni-data-dir", () => {
    expect(unpinnedProblem(network({}), current, dataDir)).toBeUndefined();
    expect(unpinnedProblem(network({ dataDir: "/srv/ipam" }), current, "/srv/ipam")).toBeUndefined();
    expect(unpinnedProblem(network({ dataDir: "/srv/ipam/" }), current, "/srv/ipam")).toBeUndefined();
  });

  it.each([
    ["another dataDir", network({ dataDir: "/etc" }), /host-local dataDir "\/etc" is not the CNI data dir/],
    ["a relative dataDir", network({ dataDir: "../../x" }), /host-local dataDir "..\/..\/x"/],
    ["host-local's default when we configured another", network({ dataDir: undefined }), /"\/var\/lib\/cni\/networks"/],
    ["another network name", network({ name: "other" }), /network "other" is not the configured "errdefer"/],
    ["another plugin", network({ extra: "portmap" }), /plugins .*portmap.* are not the configured/],
    ["another IPAM type", network({ ipam: "dhcp" }), /bridge\+dhcp/],
  ])("refuses %s", (_what, stored, reason) => {
    const configured = _what.startsWith("host-local's default") ? network({ dataDir: "/srv/ipam" }) : current;
    const cniDataDir = _what.startsWith("host-local's default") ? "/srv/ipam" : dataDir;
    expect(unpinnedProblem(stored, configured, cniDataDir)).toMatch(reason);
  });
});
