/**
 * returnpath's agent image, built locally for a kind cluster (nothing is pulled): the kind base
 * image's Debian root filesystem (iproute2 with nstat, iptables, nftables, conntrack: the evidence
 * commands the node agents run), this machine's Node.js with the shared libraries that root
 * filesystem lacks, and this build of returnpath (`returnpath-agent` on the PATH). It is what
 * `agent/Dockerfile` builds elsewhere, under the same name (`returnpath/agent:<version>`, the name
 * the cluster backend's pods ask for), imported into the cluster's engine and loaded into every
 * node's containerd with kind's own `kind load image-archive` (built once per run: AgentImageArchive).
 */
import { copyFile, cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentImage } from '../cluster/manifests.js';
import { AGENT_COMMAND } from '../cluster/agent-cli.js';
import { kindBase } from '../components/index.js';
import { requireBuilt } from '../components/store.js';
import { pipeCommands } from '../engine/docker.js';
import { EnvironmentError } from '../errors.js';
import { CommandRunner } from '../exec/command.js';
import { provenance } from '../version.js';
import type { KindCluster } from './cluster.js';

/** This checkout or installed package: the directory holding package.json, bin/ and dist/. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const IMAGE_ROOT = '/opt/returnpath';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The shared libraries `ldd` lists for a binary (absolute paths, the loader included). */
export function sharedLibraries(lddOutput: string): string[] {
  const out = new Set<string>();
  for (const line of lddOutput.split('\n')) {
    const m = /=>\s+(\/\S+)\s+\(0x/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (m) out.add(m[1]!);
  }
  return [...out];
}

export interface AgentImageOptions {
  log?: (line: string) => void;
  /** The Node.js binary to put in the image (default: the one running). */
  node?: string;
}

/**
 * The agent image as a `docker save` archive: built once, in the engine of the first cluster it is
 * loaded into, then loaded into each cluster (kind's `load image-archive`), so a run that makes
 * several clusters builds it once. close() removes the archive.
 */
export class AgentImageArchive {
  private built: Promise<string> | undefined;
  private dir: string | undefined;
  private readonly log: (line: string) => void;

  constructor(private readonly o: AgentImageOptions = {}) {
    this.log = o.log ?? (() => undefined);
  }

  get image(): string {
    return agentImage(provenance().version);
  }

  /** Loads the image into the cluster's nodes (`nodes`: container names; default every node). */
  async loadInto(cluster: KindCluster, nodes?: readonly string[]): Promise<string> {
    this.built ??= this.build(cluster);
    const archive = await this.built;
    const t0 = performance.now();
    await cluster.loadImageArchive(archive, undefined, nodes);
    this.log(
      `agent image ${this.image} loaded into ${nodes ? nodes.join(', ') : 'every node'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    return this.image;
  }

  async close(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private async build(cluster: KindCluster): Promise<string> {
    const image = this.image;
    const base = await requireBuilt(kindBase);
    const node = this.o.node ?? process.execPath;
    if (!existsSync(join(PACKAGE_ROOT, 'dist/lib/cluster/agent-cli.js')))
      throw new EnvironmentError(
        `the agent image needs returnpath built: run npm run build in ${PACKAGE_ROOT}`,
      );
    const runner = new CommandRunner();
    const t0 = performance.now();
    this.dir = await mkdtemp(join(tmpdir(), 'rp-agent-image-'));
    const root = join(this.dir, 'root');
    try {
      await mkdir(root);
      await runner.run(['tar', '--numeric-owner', '-C', root, '-xf', base.path('rootfs.tar')]);
      // Node.js and the libraries the base lacks (libstdc++ and libgcc_s: Debian's minimal root has neither).
      await mkdir(join(root, 'usr/local/bin'), { recursive: true });
      await copyFile(node, join(root, 'usr/local/bin/node'));
      const ldd = await runner.run(['ldd', node]);
      for (const lib of sharedLibraries(ldd.stdout)) {
        if (existsSync(join(root, lib))) continue;
        await mkdir(join(root, dirname(lib)), { recursive: true });
        await copyFile(lib, join(root, lib));
      }
      const app = join(root, IMAGE_ROOT.slice(1));
      await mkdir(join(app, 'bin'), { recursive: true });
      await copyFile(join(PACKAGE_ROOT, 'package.json'), join(app, 'package.json'));
      await copyFile(join(PACKAGE_ROOT, 'bin/returnpath-agent.js'), join(app, 'bin/returnpath-agent.js'));
      await cp(join(PACKAGE_ROOT, 'dist'), join(app, 'dist'), {
        recursive: true,
        filter: (src) => !/\.(test|spec)\.js$|\.map$/.test(src),
      });
      await symlink(`${IMAGE_ROOT}/bin/returnpath-agent.js`, join(root, 'usr/local/bin', AGENT_COMMAND));
      this.log(
        `agent image ${image}: ${base.dir}/rootfs.tar, Node.js ${process.version}, returnpath ${provenance().version}`,
      );
      await pipeCommands(
        ['tar', '--numeric-owner', '-C', root, '-c', '.'],
        cluster.docker.argv([
          'import',
          '--change',
          `ENV PATH=${PATH}`,
          '--change',
          `CMD ${JSON.stringify([AGENT_COMMAND, 'hold'])}`,
          '-',
          image,
        ]),
      );
      const archive = join(this.dir, 'agent.tar');
      await cluster.docker.run(['save', '--output', archive, image]);
      this.log(`agent image ${image} built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return archive;
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
}

/**
 * Builds the agent image in the cluster's engine and loads it into every node. Returns its name.
 * The build's temporary directory is removed whatever happens.
 */
export async function loadAgentImage(cluster: KindCluster, o: AgentImageOptions = {}): Promise<string> {
  const a = new AgentImageArchive(o);
  try {
    return await a.loadInto(cluster);
  } finally {
    await a.close();
  }
}
