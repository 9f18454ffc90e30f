/**
 * `returnpath components build|list|clean`: the external components (real Kubernetes, etcd, the
 * AWS VPC CNI, CNI plugins, and for kind the container engine, kind and its node image), built
 * once from the Go module proxy and Debian's packages into the per-user cache.
 */
import {
  buildComponent,
  cacheRoot,
  cleanComponents,
  COMPONENTS,
  componentsNamed,
  findBuilt,
} from '../components/index.js';
import { buildFromSource, SOURCE_BUILDABLE } from '../components/source-build.js';
import { sweepOrphanEngines } from '../engine/private-engine.js';
import { listClusterRecords } from '../kind/records.js';
import { UsageError, type Args, type CommandGroup } from './command.js';

export const componentsGroup: CommandGroup = {
  name: 'components',
  summary:
    'the real components (Kubernetes, etcd, the AWS VPC CNI, CNI plugins; the engine, kind and its node image), built once',
  commands: [
    {
      name: 'components build',
      summary:
        'build every component (or those named) from the Go module proxy into the per-user cache; cached ones are found at once',
      positionals: [
        {
          name: 'NAME',
          help: `a component: ${COMPONENTS.map((c) => c.name).join(', ')} (default: all)`,
          optional: true,
          variadic: true,
        },
      ],
      options: [
        { name: 'force', help: 'rebuild even when cached' },
        {
          name: 'source',
          value: 'CHECKOUT',
          help: `build ${SOURCE_BUILDABLE.join(' or ')} from your checkout of its module instead (with --out)`,
        },
        { name: 'out', value: 'DIR', help: 'where a --source build goes (for returnpath run --cni-bin DIR)' },
      ],
      run: build,
    },
    { name: 'components list', summary: 'what is pinned, what is built and where', run: list },
    {
      name: 'components clean',
      summary: 'remove what interrupted builds left (--all: the whole component cache)',
      options: [{ name: 'all', help: 'remove every built component too' }],
      run: clean,
    },
  ],
};

async function build(a: Args): Promise<number> {
  const names = a.variadic('NAME');
  const source = a.string('source');
  const out = a.string('out');
  if (source !== undefined || out !== undefined) return buildSource(names, source, out);
  const selected = names.length ? names.flatMap(componentsNamed) : COMPONENTS;
  const t0 = performance.now();
  return interruptible(async (signal) => {
    console.log(`components: ${selected.map((c) => c.name).join(', ')} (cache: ${cacheRoot()}/components)`);
    for (const c of selected) {
      const r = await buildComponent(c, {
        log: (l) => console.log(`  ${l}`),
        force: a.flag('force'),
        signal,
      });
      const how =
        r.state === 'built'
          ? `built in ${r.seconds.toFixed(1)} s`
          : r.state === 'cached'
            ? 'cached'
            : 'installed (Debian package)';
      console.log(`${r.name} ${r.version}: ${how} -> ${r.dir}`);
    }
    console.log(`components ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  });
}

/**
 * Runs a build with Ctrl-C (or SIGTERM) aborting its child processes: an interrupted build exits
 * 130 and keeps nothing half-built (the store removes its temporary directories).
 */
async function interruptible(work: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    return await work(abort.signal);
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

/** `components build vpc-cni --source CHECKOUT --out DIR`: one component from the user's checkout. */
async function buildSource(names: string[], source?: string, out?: string): Promise<number> {
  if (names.length !== 1 || source === undefined || out === undefined)
    throw new UsageError(
      'components build',
      [...names, source && `--source ${source}`, out && `--out ${out}`].filter(Boolean).join(' ') ||
        '(missing)',
      `--source CHECKOUT --out DIR build one component (${SOURCE_BUILDABLE.join(' or ')}) from your checkout`,
    );
  return interruptible(async (signal) => {
    const r = await buildFromSource(names[0]!, source, out, { log: (l) => console.log(`  ${l}`), signal });
    console.log(`${r.name} from ${source}: built in ${r.seconds.toFixed(1)} s -> ${r.dir}`);
    console.log(`next: returnpath run --cni-bin ${out}`);
    return 0;
  });
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

async function clean(a: Args): Promise<number> {
  // Engines of interrupted node-image builds first (their files are in the builds' directories).
  const inUse = new Set<string>();
  for (const k of await listClusterRecords()) if (k.engine?.mode === 'private') inUse.add(k.engine.record.id);
  for (const id of await sweepOrphanEngines(inUse)) console.log(`swept engine ${id}`);
  const r = await cleanComponents({ all: a.flag('all') });
  for (const p of r.removed) console.log(`removed ${p}`);
  console.log(r.removed.length ? `${r.removed.length} removed` : 'nothing to clean');
  return 0;
}
