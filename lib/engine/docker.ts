/**
 * The docker CLI as argv arrays, aimed at one engine (`--host`) with its own client configuration
 * directory (`--config`, so the user's ~/.docker is never read or written). kind drives the same
 * CLI, so returnpath and kind see the engine through one client.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { CommandError } from '../errors.js';
import { CommandRunner, type CommandResult, type RunOptions } from '../exec/command.js';

export interface EngineEndpoint {
  /** The docker CLI binary. */
  readonly dockerBin: string;
  /** `unix:///...` (DOCKER_HOST); the CLI's own default when absent (the user's Docker). */
  readonly host?: string | undefined;
  /** The client's configuration directory (DOCKER_CONFIG); the CLI's default when absent. */
  readonly configDir?: string | undefined;
}

export class DockerCli {
  constructor(
    readonly endpoint: EngineEndpoint,
    private readonly runner = new CommandRunner(),
  ) {}

  /** The argv that runs `docker ARGS` against this engine. */
  argv(args: readonly string[]): string[] {
    const { dockerBin, host, configDir } = this.endpoint;
    const out = [dockerBin];
    if (host) out.push('--host', host);
    if (configDir) out.push('--config', configDir);
    return [...out, ...args];
  }

  /** Environment for programs that call `docker` themselves (kind). */
  env(): Record<string, string> {
    const { host, configDir } = this.endpoint;
    const env: Record<string, string> = {};
    if (host) env['DOCKER_HOST'] = host;
    if (configDir) env['DOCKER_CONFIG'] = configDir;
    return env;
  }

  run(args: readonly string[], opts?: RunOptions): Promise<CommandResult> {
    return this.runner.run(this.argv(args), opts);
  }

  async serverVersion(): Promise<string> {
    return (await this.run(['version', '--format', '{{.Server.Version}}'])).stdout.trim();
  }

  async imageExists(ref: string): Promise<boolean> {
    return (
      (await this.run(['image', 'inspect', '--format', '{{.Id}}', ref], { allowFailure: true })).code === 0
    );
  }

  /** Container ids (full) matching every `key=value` label, running or not. */
  async containersWithLabels(labels: Record<string, string>): Promise<string[]> {
    const filters = Object.entries(labels).flatMap(([k, v]) => ['--filter', `label=${k}=${v}`]);
    const r = await this.run(['ps', '--all', '--no-trunc', '--quiet', ...filters]);
    return lines(r.stdout);
  }

  async inspect<T = unknown>(kind: 'container' | 'network' | 'image', ids: readonly string[]): Promise<T[]> {
    if (ids.length === 0) return [];
    const r = await this.run([kind, 'inspect', ...ids]);
    return JSON.parse(r.stdout) as T[];
  }

  async networkExists(name: string): Promise<boolean> {
    return (await this.run(['network', 'inspect', name], { allowFailure: true })).code === 0;
  }

  /** Loads an image archive (`docker save` format) from a file. */
  async load(file: string): Promise<void> {
    await this.pipeInto(['load', '--quiet'], createReadStream(file));
  }

  /** Runs `docker ARGS` with `input` streamed to its stdin (large archives: never buffered). */
  pipeInto(args: readonly string[], input: Readable): Promise<CommandResult> {
    const argv = this.argv(args);
    return pipeStream(argv, input);
  }
}

/** Spawns argv, streams `input` into its stdin; resolves with its output, throws CommandError on failure. */
export function pipeStream(argv: readonly string[], input: Readable): Promise<CommandResult> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let inputError: Error | undefined;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    input.on('error', (e) => {
      inputError = e;
      child.stdin.destroy();
    });
    child.stdin.on('error', () => undefined);
    input.pipe(child.stdin);
    child.on('error', (e) => reject(new CommandError(argv, null, e.message)));
    child.on('close', (code) => {
      const r = { argv, code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (inputError) reject(new CommandError(argv, code, `input: ${inputError.message}\n${r.stderr}`));
      else if (code !== 0) reject(new CommandError(argv, code, r.stderr, r.stdout));
      else resolve(r);
    });
  });
}

/**
 * Runs `producer | consumer` without a shell: the producer's stdout streams into the consumer's
 * stdin (e.g. `tar -c` into `docker import -`). Fails when either fails.
 */
export async function pipeCommands(
  producer: readonly string[],
  consumer: readonly string[],
): Promise<CommandResult> {
  const [file, ...args] = producer;
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => err.push(d));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(new CommandError(producer, null, e.message)));
    child.on('close', (code) => resolve(code));
  });
  let consumed: CommandResult;
  try {
    consumed = await pipeStream(consumer, child.stdout);
  } catch (e) {
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw e;
  }
  const code = await exited;
  if (code !== 0) throw new CommandError(producer, code, Buffer.concat(err).toString());
  return consumed;
}

export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}
