// Types of build-cli.js (plain JavaScript, so that it runs without a TypeScript loader).

/** The bundled CLI: examples/sandbox-runner/bin/errdefer-sandbox.mjs. */
export declare const cliBundle: string;
/** Whether the bundle is missing or older than a file it was built from. */
export declare function cliBundleStale(): boolean;
/** Builds the bundle (when stale, or always with `force`); resolves to whether it built. */
export declare function buildCli(options?: { readonly force?: boolean }): Promise<boolean>;
