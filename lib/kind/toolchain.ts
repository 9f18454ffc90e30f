/**
 * The programs a kind cluster needs, found before anything is created: for the private engine,
 * returnpath's built components (engine, runc, docker CLI, kind, node image); for an external
 * engine, `docker` and `kind` on PATH (or returnpath's kind build). Missing ones are an
 * EnvironmentError (exit 3) that names the command which provides them.
 */
import { readFile } from 'node:fs/promises';
import { dockerCli, engine, kind, kindNode, runc, findBuilt } from '../components/index.js';
import type { NodeImageInfo } from '../components/kind-node-image.js';
import { requireBuilt } from '../components/store.js';
import { EnvironmentError } from '../errors.js';
import { CommandRunner } from '../exec/command.js';
import type { EngineBinaries } from '../engine/private-engine.js';

export interface PrivateToolchain {
  mode: 'private';
  binaries: EngineBinaries;
  kindBin: string;
  /** The node image archive and what it holds. */
  nodeImage: { archive: string; info: NodeImageInfo };
}

export interface ExternalToolchain {
  mode: 'external';
  dockerBin: string;
  kindBin: string;
}

/** returnpath's own engine, kind and node image, all from the component cache. */
export async function privateToolchain(): Promise<PrivateToolchain> {
  if (process.getuid?.() !== 0)
    throw new EnvironmentError(
      "a kind cluster on returnpath's own engine needs root (run as root, or use --docker with your Docker)",
    );
  const missing: string[] = [];
  for (const c of [engine, runc, dockerCli, kind, kindNode]) if (!(await findBuilt(c))) missing.push(c.name);
  if (missing.length)
    throw new EnvironmentError(
      `kind needs components that are not built: ${missing.join(', ')}; run 'returnpath components build ${missing.join(' ')}' ` +
        `(once: about 30-45 min cold on 2 cores, then cached), or use --docker with your own Docker and kind`,
    );
  const [e, r, cli, k, node] = await Promise.all(
    [engine, runc, dockerCli, kind, kindNode].map((c) => requireBuilt(c)),
  );
  const info = JSON.parse(await readFile(node!.path('image.json'), 'utf8')) as NodeImageInfo;
  return {
    mode: 'private',
    binaries: {
      dockerd: e!.path('bin/dockerd'),
      dockerProxy: e!.path('bin/docker-proxy'),
      docker: cli!.path('bin/docker'),
      pathDirs: [e!.path('bin'), r!.path('bin')],
    },
    kindBin: k!.path('bin/kind'),
    nodeImage: { archive: node!.path('node-image.tar'), info },
  };
}

/** The user's Docker (DOCKER_HOST or its default socket) and kind (returnpath's build, else PATH). */
export async function externalToolchain(): Promise<ExternalToolchain> {
  const runner = new CommandRunner();
  const docker = await runner
    .run(['docker', 'version', '--format', '{{.Server.Version}}'], { allowFailure: true })
    .catch(() => undefined);
  if (!docker)
    throw new EnvironmentError(
      "no docker CLI on PATH: install Docker (https://docs.docker.com/engine/install/), or drop --docker to use returnpath's own engine",
    );
  if (docker.code !== 0)
    throw new EnvironmentError(
      `Docker does not answer (${docker.stderr.trim().split('\n').pop() ?? ''}): start it, or set DOCKER_HOST; or drop --docker to use returnpath's own engine`,
    );
  const built = await findBuilt(kind);
  if (built) return { mode: 'external', dockerBin: 'docker', kindBin: built.path('bin/kind') };
  const k = await runner.run(['kind', 'version'], { allowFailure: true }).catch(() => undefined);
  if (!k || k.code !== 0)
    throw new EnvironmentError(
      "no kind CLI: run 'returnpath components build kind', or install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
    );
  return { mode: 'external', dockerBin: 'docker', kindBin: 'kind' };
}
