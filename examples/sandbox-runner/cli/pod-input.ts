// The pod config a `run` names: read from a file or stdin (`-`), at most 1 MiB, parsed as JSON and
// validated, all before anything is created.
import { readFile } from "node:fs/promises";
import { err, type Result } from "neverthrow";
import { describeError } from "errdefer";
import { parseJson } from "../json-text.js";
import { parsePodConfig, type ConfigError, type PodConfig } from "../pod-config.js";
import { UsageError } from "./exit-codes.js";

const MAX_CONFIG_BYTES = 1 << 20;

/** The validated pod config in `file`; what cannot be read or parsed is a usage error. */
export async function readPodConfig(file: string): Promise<Result<PodConfig, UsageError | ConfigError>> {
  let text: string;
  try {
    text = file === "-" ? await readStdin() : await readFile(file, "utf8");
  } catch (e) {
    return err(new UsageError(`cannot read pod config ${file}: ${describeError(e)}`));
  }
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) return err(new UsageError(`pod config ${file} is larger than 1 MiB`));
  // The position only: the text is never quoted (the file may be a symlink to a secret).
  const raw = parseJson(text);
  if (raw.isErr()) return err(new UsageError(`pod config ${file} is ${raw.error.message}`));
  return parsePodConfig(raw.value);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
