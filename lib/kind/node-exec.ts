/**
 * Running commands on a kind node, behind the same HostExec interface the lab's namespaces have:
 * `NodeExec` runs inside the node container (its filesystem, its tools: `docker exec`);
 * `NodeNetExec` runs the host's tools in the node's network namespace only (`nsenter` through the
 * node container's pid), as the lab runs them in its own namespaces.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { DockerCli } from '../engine/docker.js';
import { CommandRunner, shellQuote, type CommandResult, type RunOptions } from '../exec/command.js';
import type { HostExec } from '../exec/netns.js';

export interface KindNode {
  /** Container name and Kubernetes node name. */
  name: string;
  role: 'control-plane' | 'worker';
  containerId: string;
  /** The node container's first process on the host (its systemd). */
  pid: number;
  /** `/proc/<pid>/ns/net`: the node's network namespace. */
  netns: string;
  /** IPv4 address on the kind network. */
  address: string;
}

export class NodeExec implements HostExec {
  readonly host: string;
  constructor(
    readonly node: KindNode,
    private readonly docker: DockerCli,
    private readonly runner = new CommandRunner(),
  ) {
    this.host = `node/${node.name}`;
  }

  wrap(argv: readonly string[]): string[] {
    return this.docker.argv(['exec', '--interactive', this.node.containerId, ...argv]);
  }

  run(argv: readonly string[], opts?: RunOptions): Promise<CommandResult> {
    return this.runner.run(this.wrap(argv), opts);
  }

  spawn(argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const [file, ...args] = this.wrap(argv);
    return spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  }

  reproduce(argv: readonly string[]): string {
    return shellQuote(['docker', 'exec', this.node.name, ...argv]);
  }
}

export class NodeNetExec implements HostExec {
  readonly host: string;
  constructor(
    readonly node: KindNode,
    private readonly runner = new CommandRunner(),
  ) {
    this.host = `node/${node.name}`;
  }

  wrap(argv: readonly string[]): string[] {
    return ['nsenter', `--net=${this.node.netns}`, '--', ...argv];
  }

  run(argv: readonly string[], opts?: RunOptions): Promise<CommandResult> {
    return this.runner.run(this.wrap(argv), opts);
  }

  spawn(argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const [file, ...args] = this.wrap(argv);
    return spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  }
}
