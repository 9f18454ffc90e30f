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
  // Inputs can be anything (a binary file, a terminal escape): show a printable excerpt only.
  return `${printable(p.path, 200, false) || '(root)'}: ${printable(p.message, 1000)} (got ${printable(p.value, 120, false)})`;
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

/** The user interrupted (SIGINT/SIGTERM): exit 130, nothing judged. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
}

/**
 * Text safe to show on a terminal: control characters and invalid bytes escaped (`\x1b`, `\u0000`),
 * newlines kept (messages span lines) unless `keepNewlines` is false, cut at `max` characters.
 */
export function printable(text: string, max = 200, keepNewlines = true): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if ((ch === '\n' && keepNewlines) || ch === '\t') out += ch;
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0))
      out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0xfffd || (c >= 0xd800 && c <= 0xdfff)) out += '\\ufffd';
    else out += ch;
    if (out.length > max) return out.slice(0, max) + `... (${text.length} characters)`;
  }
  return out;
}
