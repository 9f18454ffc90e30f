/**
 * Files named on the command line: inputs (topologies, snapshots, results) and outputs (--out,
 * --results). Every problem is a ValidationError (exit 2) naming the path and saying, in words,
 * what is wrong with it: missing, a directory, a device, a /proc file, unreadable, empty, binary.
 */
import { constants, type Stats } from 'node:fs';
import { access, mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { printable, ValidationError } from './errors.js';

/** What an errno means for a path, in words. */
export function describeErrno(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'does not exist';
    case 'ENOTDIR':
      return 'has a part that is not a directory';
    case 'EISDIR':
      return 'is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'is on a read-only file system';
    case 'ELOOP':
      return 'is a loop of symbolic links';
    case 'ENAMETOOLONG':
      return 'is too long a name';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EEXIST':
      return 'already exists';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/** A file named on the command line cannot be used: `topology spec x.yaml: does not exist`. */
export class FileProblem extends ValidationError {
  constructor(
    readonly file: string,
    readonly what: string,
    readonly problem: string,
  ) {
    super(file, [{ path: file, value: what, message: problem }]);
    this.message = `${what} ${printable(file, 300, false)}: ${problem}`;
  }
}

export function fileProblem(path: string, what: string, message: string): FileProblem {
  return new FileProblem(path, what, message);
}

/** Kernel pseudo-files: their size says nothing and reading them can have effects or never end. */
const PSEUDO = ['/proc', '/sys'];

function kindOf(st: Stats): string | undefined {
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  return undefined;
}

/**
 * Checks that `path` is something a command may read as `what` (a regular file, or a directory
 * when `allowDirectory`), following symbolic links. Returns its stats.
 */
export async function inputStat(
  path: string,
  what: string,
  opts: { allowDirectory?: boolean } = {},
): Promise<Stats> {
  const st = await stat(path).catch((e: unknown) => {
    throw fileProblem(path, what, describeErrno(e));
  });
  const special = kindOf(st);
  if (special) throw fileProblem(path, what, `is ${special}, not a file`);
  const real = await realpath(path).catch(() => resolve(path));
  const pseudo = PSEUDO.find((p) => real === p || real.startsWith(`${p}/`));
  if (pseudo)
    throw fileProblem(
      path,
      what,
      `is a kernel pseudo-file under ${pseudo} (${real}); pass a copy of what it holds instead`,
    );
  if (st.isDirectory() && !opts.allowDirectory)
    throw fileProblem(path, what, `is a directory; expected a file`);
  return st;
}

/** A NUL byte, or many invalid UTF-8 sequences / control characters: not a text file. */
export function looksBinary(buf: Buffer): boolean {
  const head = buf.subarray(0, 8192);
  if (head.includes(0)) return true;
  const text = head.toString('utf8');
  let odd = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c === 0xfffd || (c < 0x20 && ch !== '\n' && ch !== '\r' && ch !== '\t')) odd++;
  }
  return odd > Math.max(2, text.length / 50);
}

/**
 * Reads a text input file named on the command line. Refuses (ValidationError naming the path)
 * what is missing, unreadable, a directory, a device or a /proc file, empty, or binary.
 */
export async function readTextInput(path: string, what: string): Promise<string> {
  await inputStat(path, what);
  const buf = await readFile(path).catch((e: unknown) => {
    throw fileProblem(path, what, describeErrno(e));
  });
  if (buf.toString('utf8').trim() === '')
    throw fileProblem(path, what, `is empty (no content); expected ${what}`);
  if (looksBinary(buf))
    throw fileProblem(path, what, `is not a text file (binary content); expected ${what}`);
  return buf.toString('utf8');
}

/**
 * Checks, before any work is done, that `path` can be written as a file: its directory exists
 * and is writable, and it is not a directory itself. Writing it later can still fail (a full
 * disk): use writeProblem() for that.
 */
export async function checkOutputFile(path: string, what: string): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw fileProblem(path, what, 'is a directory; expected a file to write');
  if (existing && kindOf(existing)) throw fileProblem(path, what, `is ${kindOf(existing)}, not a file`);
  const dir = dirname(resolve(path));
  const d = await stat(dir).catch((e: unknown) => {
    throw fileProblem(path, what, `cannot be written: its directory ${dir} ${describeErrno(e)}`);
  });
  if (!d.isDirectory()) throw fileProblem(path, what, `cannot be written: ${dir} is not a directory`);
  await access(existing ? path : dir, constants.W_OK).catch((e: unknown) => {
    throw fileProblem(path, what, `cannot be written: ${describeErrno(e)}`);
  });
}

/** Creates (if needed) and checks a directory the command writes into. */
export async function prepareOutputDirectory(path: string, what: string): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  if (existing && !existing.isDirectory())
    throw fileProblem(path, what, 'is not a directory; expected a directory to write into');
  await mkdir(path, { recursive: true }).catch((e: unknown) => {
    throw fileProblem(path, what, `cannot be created: ${describeErrno(e)}`);
  });
  await access(path, constants.W_OK).catch((e: unknown) => {
    throw fileProblem(path, what, `cannot be written: ${describeErrno(e)}`);
  });
}

/** A failed write of an output, as a ValidationError naming the path. */
export function writeProblem(path: string, what: string, e: unknown): ValidationError {
  return fileProblem(path, what, `cannot be written: ${describeErrno(e)}`);
}
