/** Typed errors thrown by lib/. Suites and the CLI decide what to do with them. */

/** Bad user input: a spec, a flag or a snapshot. Carries every problem found, each with its path. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly source: string,
    readonly problems: readonly ValidationProblem[],
  ) {
    super(
      `${source}: ${problems.length} problem(s)\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join('\n'),
    );
  }
}

export interface ValidationProblem {
  /** Dotted path into the input, e.g. `nodes[1].enis[0].address`. */
  path: string;
  /** The offending value, rendered for humans. */
  value: string;
  /** What is wrong and what is allowed. */
  message: string;
}

export function formatProblem(p: ValidationProblem): string {
  return `${p.path || '(root)'}: ${p.message} (got ${p.value})`;
}

/** A command the lab ran exited non-zero or could not start. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
    readonly stdout = '',
  ) {
    super(`command failed (exit ${code ?? 'signal'}): ${argv.join(' ')}\n${stderr.trim()}`);
  }
}

/** The machine lacks something the lab needs (root, a tool, a kernel feature). */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

/** A lab object referenced by name does not exist (run, host, namespace). */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}
