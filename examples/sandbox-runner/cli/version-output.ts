// `version` and `--version`: who we are, from version.ts (the CRI server's Version answers the same).
import { CRI_API_VERSION, RUNTIME_NAME, VERSION } from "../version.js";

/** CRI's VersionResponse, in its JSON names, as `crictl version -o json` prints it. */
export function versionResponse(): Record<string, string> {
  return {
    // CRI's own field: the kubelet runtime API's version, "0.1.0" from every runtime.
    version: "0.1.0",
    runtimeName: RUNTIME_NAME,
    runtimeVersion: VERSION,
    runtimeApiVersion: CRI_API_VERSION,
  };
}

/** `--version`: one line, as `crictl --version` prints its own. */
export function versionLine(): string {
  return `errdefer-sandbox version ${VERSION}`;
}
