// The shapes of CNI network configuration and results (CNI spec 1.0), typed only as far as the
// runner reads them: everything else passes through to the plugins untouched.

/** One plugin's configuration inside a network list; `type` names the binary in the bin dir. */
export interface CniPluginConfig {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** A network configuration list (a `.conflist`, or a `.conf` normalised into a list of one). */
export interface CniNetworkList {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly CniPluginConfig[];
  readonly [key: string]: unknown;
}

export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  /** The netns path when the interface lives in the sandbox; absent or "" on the host side. */
  readonly sandbox?: string;
  readonly [key: string]: unknown;
}

export interface CniIpConfig {
  /** A CIDR such as `10.88.0.5/24`. */
  readonly address: string;
  readonly gateway?: string;
  /** Index into `interfaces`. */
  readonly interface?: number;
  readonly [key: string]: unknown;
}

/** A plugin's success result as printed on stdout; kept verbatim for prevResult and for DEL. */
export interface CniResult {
  readonly cniVersion?: string;
  readonly interfaces?: readonly CniInterface[];
  readonly ips?: readonly CniIpConfig[];
  readonly [key: string]: unknown;
}
