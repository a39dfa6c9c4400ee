// The pod config a `run` names: read from a regular file or stdin (`-`), at most 1 MiB, parsed as
// JSON or YAML (as crictl reads either: by the extension, else by its first character) and
// validated, all before anything is created. CRI configs are a few KiB: reading stops at
// the limit, so an endless stdin or a huge file costs 1 MiB, and a FIFO or a device is refused
// without being opened for blocking reads.
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { err, ok, type Result } from "neverthrow";
import { describeError } from "errdefer";
import { parseJson } from "../json-text.js";
import { parsePodConfig, type ConfigError, type PodConfig } from "../pod-config.js";
import { UsageError } from "./exit-codes.js";

/** The most a pod config may take. */
export const MAX_CONFIG_BYTES = 1 << 20;

const tooLarge = (file: string) =>
  new UsageError(`pod config ${file} is larger than 1 MiB (${MAX_CONFIG_BYTES} bytes), the limit`);

/** The validated pod config in `file`; what cannot be read or parsed is a usage error. */
export async function readPodConfig(file: string): Promise<Result<PodConfig, UsageError | ConfigError>> {
  let text: Result<string, UsageError>;
  try {
    text = file === "-" ? await readStdin() : await readRegularFile(file);
  } catch (e) {
    return err(new UsageError(`cannot read pod config ${file}: ${describeError(e)}`));
  }
  if (text.isErr()) return err(text.error);
  // The position only: the text is never quoted (the file may be a symlink to a secret).
  const raw = isYaml(file, text.value) ? await parseYaml(text.value) : parseJson(text.value);
  if (raw.isErr()) return err(new UsageError(`pod config ${file} is ${raw.error.message}`));
  return parsePodConfig(raw.value);
}

/** YAML by its extension; without one that says (stdin, `.conf`), unless it starts as JSON does. */
function isYaml(file: string, text: string): boolean {
  if (/\.ya?ml$/i.test(file)) return true;
  if (/\.json$/i.test(file)) return false;
  return !text.trimStart().startsWith("{");
}

/**
 * YAML 1.2 (its JSON-compatible core schema: `yes` stays a string), one document, unique keys, few
 * aliases. An error says where, and its code: yaml's own messages may quote the text (an alias's or
 * a tag's name), so they are not shown. Loaded here only: most runs read JSON.
 */
async function parseYaml(text: string): Promise<Result<unknown, Error>> {
  // yaml is CommonJS: its exports are the default export (under node and in the bundle alike).
  const { parseDocument } = (await import("yaml")).default;
  // prettyErrors sets linePos (and quotes the text in the message, which is not used).
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const at = first.linePos?.[0];
    const where = at === undefined ? "" : ` at line ${at.line}, column ${at.col}`;
    return err(new Error(`not valid YAML${where} (${first.code})`));
  }
  try {
    return ok(doc.toJS({ maxAliasCount: 50 }) as unknown);
  } catch (e) {
    // An alias bomb, or an alias without its anchor: said without the text either.
    return err(new Error(`not usable YAML (${e instanceof Error ? e.name : "error"}: too many or unresolved aliases)`));
  }
}

// O_NONBLOCK: opening a FIFO does not wait for a writer (it is refused after the fstat).
const { O_RDONLY, O_NONBLOCK, O_NOCTTY } = constants;

/** The text of a regular file of at most the limit; anything else (FIFO, device, directory) is refused. */
async function readRegularFile(file: string): Promise<Result<string, UsageError>> {
  const handle = await open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return err(new UsageError(`pod config ${file} is not a regular file (${kindOf(stats)})`));
    if (stats.size > MAX_CONFIG_BYTES) return err(tooLarge(file));
    return await readAtMost(handle, file);
  } finally {
    await handle.close();
  }
}

function kindOf(stats: import("node:fs").Stats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isSocket()) return "a socket";
  return stats.isCharacterDevice() || stats.isBlockDevice() ? "a device" : "not a file";
}

/** Reads up to the limit (the file may grow after the fstat); one byte more is too large. */
async function readAtMost(handle: FileHandle, file: string): Promise<Result<string, UsageError>> {
  const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
  let length = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
    if (bytesRead === 0) break;
    length += bytesRead;
    if (length > MAX_CONFIG_BYTES) return err(tooLarge(file));
  }
  return ok(buffer.subarray(0, length).toString("utf8"));
}

/** Stdin up to the limit; past it, reading stops (an endless writer gets EPIPE once we exit). */
async function readStdin(): Promise<Result<string, UsageError>> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin) {
    length += (chunk as Buffer).length;
    if (length > MAX_CONFIG_BYTES) {
      process.stdin.destroy();
      return err(tooLarge("-"));
    }
    chunks.push(chunk as Buffer);
  }
  return ok(Buffer.concat(chunks).toString("utf8"));
}
