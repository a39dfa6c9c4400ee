// Fails when examples/sandbox-runner/cri/gen/ is not what `npm run gen:cri` makes from the vendored
// proto: generates into a temp dir with the same buf config and compares file by file.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const source = "examples/sandbox-runner/cri";
const scratch = mkdtempSync(join(tmpdir(), "errdefer-gen-"));
try {
  cpSync(join(source, "proto"), join(scratch, "proto"), { recursive: true });
  cpSync(join(source, "buf.gen.yaml"), join(scratch, "buf.gen.yaml"));
  const buf = join(process.cwd(), "node_modules/.bin/buf");
  const env = { ...process.env, PATH: `${join(process.cwd(), "node_modules/.bin")}:${process.env.PATH ?? ""}` };
  execFileSync(buf, ["generate"], { cwd: scratch, env, stdio: "inherit" });
  const fresh = readdirSync(join(scratch, "gen")).sort();
  const committed = readdirSync(join(source, "gen")).sort();
  const stale = [...new Set([...fresh, ...committed])].filter((name) => {
    if (!fresh.includes(name) || !committed.includes(name)) return true;
    return !readFileSync(join(scratch, "gen", name)).equals(readFileSync(join(source, "gen", name)));
  });
  if (stale.length > 0) {
    console.error(`${source}/gen is stale (${stale.join(", ")}): run npm run gen:cri and commit the result`);
    process.exitCode = 1;
  } else console.log(`${source}/gen matches the vendored proto`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
