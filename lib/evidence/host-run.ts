/** Running evidence commands on a host, with a missing tool reported as an EnvironmentError. */
import type { HostExec } from '../exec/netns.js';
import type { CommandResult, RunOptions } from '../exec/command.js';
import { CommandError, EnvironmentError } from '../errors.js';

/** True when `e` says the program could not be found (nsenter exits 127; spawn fails with ENOENT). */
export function isMissingTool(e: unknown): boolean {
  return e instanceof CommandError && (e.code === 127 || (e.code === null && /ENOENT/.test(e.stderr)));
}

/** Turn a missing-tool failure into an EnvironmentError naming the host and the tool. */
export function hostCommandError(exec: HostExec, argv: readonly string[], e: unknown): Error {
  if (isMissingTool(e)) {
    return new EnvironmentError(
      `${exec.host}: ${argv[0] ?? '(empty argv)'} is not installed or not on PATH`,
      {
        cause: e,
      },
    );
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** `exec.run(argv, opts)`, rethrowing a missing tool as EnvironmentError. */
export async function runOnHost(
  exec: HostExec,
  argv: readonly string[],
  opts?: RunOptions,
): Promise<CommandResult> {
  try {
    const res = await exec.run(argv, opts);
    if (res.code === 127) throw new CommandError(exec.wrap(argv), res.code, res.stderr, res.stdout);
    return res;
  } catch (e) {
    throw hostCommandError(exec, argv, e);
  }
}
