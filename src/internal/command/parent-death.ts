// Commands that die with the process that started them: run as `setpriv --pdeathsig KILL -- PROGRAM
// ARGS`, so the kernel sends them SIGKILL when their parent exits, however it exits (SIGKILL
// included). setpriv (util-linux) sets PR_SET_PDEATHSIG and execs the program in place: same PID,
// same exit code, same signals; one exec more per command. The setting is not inherited across fork,
// so what the program itself starts (runc's container process) is unaffected.
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { err, ok, type Result } from "neverthrow";

/** Where setpriv was found, looked up once (on PATH, then /usr/bin). */
let setprivPath: string | undefined;

/** Why `file` cannot be executed (as execve would say: ENOENT, EACCES), or undefined when it can. */
function notExecutable(file: string): "ENOENT" | "EACCES" | undefined {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile() ? undefined : "EACCES";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "ENOENT" : "EACCES";
  }
}

/**
 * The program `name` as execvp finds it: as is when it holds a slash, else the first executable
 * file of that name in the dirs of `searchPath`. An err is the errno execve would give.
 */
export function findProgram(name: string, searchPath: string | undefined): Result<string, "ENOENT" | "EACCES"> {
  if (name.includes("/")) {
    const problem = notExecutable(name);
    return problem === undefined ? ok(name) : err(problem);
  }
  for (const dir of (searchPath ?? "").split(":")) {
    const candidate = dir === "" ? `./${name}` : path.join(dir, name);
    if (notExecutable(candidate) === undefined) return ok(candidate);
  }
  return err("ENOENT");
}

function setpriv(): string | undefined {
  if (setprivPath !== undefined) return setprivPath;
  const found = findProgram("setpriv", process.env.PATH);
  const fallback = "/usr/bin/setpriv";
  setprivPath = found.isOk() ? path.resolve(found.value) : notExecutable(fallback) === undefined ? fallback : undefined;
  return setprivPath;
}

/** An Error as Node's spawn would make it for `file` and `code`. */
function spawnError(file: string, code: string, message = `spawn ${file} ${code}`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, path: file });
}

/**
 * What to spawn so that `file args` dies with this process: setpriv and its arguments. The program
 * is looked up here (on the child's PATH), so that a missing one fails to start as it would without
 * setpriv (ENOENT) rather than becoming setpriv's exit code 127. An err is the spawn error.
 */
export function dieWithParentArgv(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Result<{ readonly file: string; readonly args: readonly string[] }, NodeJS.ErrnoException> {
  const wrapper = setpriv();
  if (wrapper === undefined)
    return err(
      spawnError(file, "ENOENT", "dieWithParent needs setpriv (util-linux), found neither on PATH nor in /usr/bin"),
    );
  const program = findProgram(file, env.PATH);
  if (program.isErr()) return err(spawnError(file, program.error));
  return ok({ file: wrapper, args: ["--pdeathsig", "KILL", "--", program.value, ...args] });
}
