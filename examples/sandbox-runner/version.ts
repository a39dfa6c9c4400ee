// Who we are, as CRI's Version call and `--version` say it: the runtime's name and the package's
// version, read once from package.json (by the package's own name, so a bundle inlines it).
import pkg from "errdefer/package.json" with { type: "json" };

/** CRI's `runtime_name`. */
export const RUNTIME_NAME = "errdefer";

/** The package's version (`runtime_version`). */
export const VERSION: string = pkg.version;

/** The CRI API version served (`runtime_api_version`). */
export const CRI_API_VERSION = "v1";
