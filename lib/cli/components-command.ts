/**
 * `returnpath components build|list|clean`: the external components (real Kubernetes, etcd, the
 * AWS VPC CNI, CNI plugins), built once from the Go module proxy into the per-user cache.
 */
import {
  buildComponent,
  cacheRoot,
  cleanComponents,
  COMPONENTS,
  componentsNamed,
  findBuilt,
} from '../components/index.js';
import { sweepOrphanEngines } from '../engine/private-engine.js';
import { listClusterRecords } from '../kind/records.js';
import { parseArgs, usage } from './args.js';

export const COMPONENTS_USAGE = `usage: returnpath components build [NAME ...] [--force]   build (or find cached) every component, or those named
       returnpath components list                       what is pinned, built and where
       returnpath components clean [--all]              remove what interrupted builds left (--all: the whole cache)
components: ${COMPONENTS.map((c) => c.name).join(', ')}`;

export async function componentsCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'build':
      return build(rest);
    case 'list':
      parseArgs(rest, {}, 'components list');
      if (rest.length > 0) throw usage('components list', rest.join(' '), 'takes no arguments');
      return list();
    case 'clean': {
      const a = parseArgs(rest, { booleans: ['all'] }, 'components clean');
      if (a.positionals.length > 0)
        throw usage('components clean', a.positionals.join(' '), 'takes no positional arguments');
      // Engines of interrupted node-image builds first (their files are in the builds' directories).
      const inUse = new Set<string>();
      for (const k of await listClusterRecords())
        if (k.engine?.mode === 'private') inUse.add(k.engine.record.id);
      for (const id of await sweepOrphanEngines(inUse)) console.log(`swept engine ${id}`);
      const r = await cleanComponents({ all: a.flags.has('all') });
      for (const p of r.removed) console.log(`removed ${p}`);
      console.log(r.removed.length ? `${r.removed.length} removed` : 'nothing to clean');
      return 0;
    }
    case '-h':
    case '--help':
      console.log(COMPONENTS_USAGE);
      return 0;
    default:
      throw usage('components', sub ?? '(missing)', `expected build, list or clean\n${COMPONENTS_USAGE}`);
  }
}

async function build(argv: readonly string[]): Promise<number> {
  const a = parseArgs(argv, { booleans: ['force'] }, 'components build');
  const selected = a.positionals.length ? a.positionals.flatMap(componentsNamed) : COMPONENTS;
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const t0 = performance.now();
  try {
    console.log(`components: ${selected.map((c) => c.name).join(', ')} (cache: ${cacheRoot()}/components)`);
    for (const c of selected) {
      const r = await buildComponent(c, {
        log: (l) => console.log(`  ${l}`),
        force: a.flags.has('force'),
        signal: abort.signal,
      });
      const how =
        r.state === 'built'
          ? `built in ${r.seconds.toFixed(1)} s`
          : r.state === 'cached'
            ? 'cached'
            : 'installed (Debian package)';
      console.log(`${r.name} ${r.version}: ${how} -> ${r.dir}`);
    }
  } catch (e) {
    if (abort.signal.aborted) {
      console.error('components build: interrupted; nothing half-built was kept');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  console.log(`components ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

async function list(): Promise<number> {
  for (const c of COMPONENTS) {
    const b = await findBuilt(c);
    const state = b
      ? b.manifest.buildSeconds
        ? `built ${b.manifest.builtAt} in ${b.manifest.buildSeconds} s`
        : 'installed'
      : 'not built';
    console.log(`${c.name.padEnd(16)} ${(await c.version()).padEnd(18)} ${state}${b ? `  ${b.dir}` : ''}`);
    console.log(`${''.padEnd(16)} ${c.description}`);
  }
  return 0;
}
