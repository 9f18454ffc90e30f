/**
 * `returnpath components build|list|clean`: the external components (real Kubernetes, etcd, the
 * AWS VPC CNI, CNI plugins), built once from the Go module proxy into the per-user cache.
 */
import {
  buildComponent,
  cacheRoot,
  cleanComponents,
  COMPONENTS,
  componentNamed,
  findBuilt,
} from '../components/index.js';
import { buildFromSource, SOURCE_BUILDABLE } from '../components/source-build.js';
import { parseArgs, stringFlag, usage } from './args.js';

export const COMPONENTS_USAGE = `usage: returnpath components build [NAME ...] [--force]   build (or find cached) every component, or those named
       returnpath components build NAME --source CHECKOUT --out DIR
                                                        build ${SOURCE_BUILDABLE.join(' or ')} from your checkout into DIR
                                                        (for returnpath run --cni-bin DIR)
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
  const a = parseArgs(argv, { booleans: ['force'], values: ['source', 'out'] }, 'components build');
  const source = stringFlag(a, 'source');
  const out = stringFlag(a, 'out');
  if (source !== undefined || out !== undefined) return buildSource(a.positionals, source, out);
  const selected = a.positionals.length ? a.positionals.map(componentNamed) : COMPONENTS;
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

async function buildSource(names: string[], source?: string, out?: string): Promise<number> {
  if (names.length !== 1 || source === undefined || out === undefined)
    throw usage(
      'components build',
      [...names, source && `--source ${source}`, out && `--out ${out}`].filter(Boolean).join(' ') ||
        '(missing)',
      `--source CHECKOUT --out DIR build one component (${SOURCE_BUILDABLE.join(' or ')}) from your checkout`,
    );
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const r = await buildFromSource(names[0]!, source, out, {
      log: (l) => console.log(`  ${l}`),
      signal: abort.signal,
    });
    console.log(`${r.name} from ${source}: built in ${r.seconds.toFixed(1)} s -> ${r.dir}`);
    console.log(`next: returnpath run --cni-bin ${out}`);
    return 0;
  } catch (e) {
    if (abort.signal.aborted) {
      console.error('components build: interrupted; nothing half-built was kept');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
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
