/** `returnpath kind up | down | list | clean | exec | kubeconfig`: kind clusters made by returnpath. */
import { spawn } from 'node:child_process';
import { KindCluster, deleteCluster, listClusters } from '../kind/cluster.js';
import { cleanClusters } from '../kind/clean.js';
import { intFlag, parseArgs, stringFlag, usage } from './args.js';

export const KIND_USAGE = `usage: returnpath kind up [--name NAME] [--config FILE] [--workers N] [--proxy-mode iptables|nftables]
                          [--docker [--image IMAGE]]
                                 create a kind cluster (kept until 'kind down'); prints its kubeconfig
       returnpath kind down NAME        delete a cluster returnpath made, and everything it left on the host
       returnpath kind list             clusters returnpath made on this machine
       returnpath kind clean [--all]    remove clusters of interrupted runs (--all: also kept ones)
       returnpath kind exec NAME NODE -- CMD   run a command in a node container
       returnpath kind kubeconfig NAME  print the path of a cluster's kubeconfig
By default the cluster runs on returnpath's own engine and node image (root; 'returnpath components build');
--docker uses your Docker and kind's default node image (or --image).`;

export async function kindCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'up':
      return up(rest);
    case 'down': {
      const a = parseArgs(rest, {}, 'kind down');
      const name = a.positionals[0];
      if (!name || a.positionals.length > 1)
        throw usage('kind down', a.positionals.join(' ') || '(missing)', 'needs one cluster name');
      const r = await deleteCluster(name, { log: (l) => console.log(`  ${l}`) });
      console.log(`cluster ${r.name} removed`);
      return 0;
    }
    case 'list': {
      parseArgs(rest, {}, 'kind list');
      const all = await listClusters();
      if (all.length === 0) console.log('no kind clusters made by returnpath');
      for (const c of all)
        console.log(
          `${c.name.padEnd(20)} run ${c.runId}  ${c.state.padEnd(17)} ${c.engine.padEnd(8)} ${String(c.nodes).padStart(2)} nodes ${c.ready ? 'ready' : 'not ready'}  ${c.kubeconfig}`,
        );
      return 0;
    }
    case 'clean': {
      const a = parseArgs(rest, { booleans: ['all'] }, 'kind clean');
      if (a.positionals.length)
        throw usage('kind clean', a.positionals.join(' '), 'takes no positional arguments');
      const r = await cleanClusters({ all: a.flags.has('all'), log: (l) => console.log(`  ${l}`) });
      for (const x of r.removed) console.log(`removed cluster ${x.name}`);
      for (const x of r.kept) console.log(`kept ${x.name}: ${x.why}`);
      for (const x of r.failed) console.log(`could not remove ${x.name}: ${x.error}`);
      for (const x of r.engines) console.log(`swept engine ${x}`);
      if (!r.removed.length && !r.engines.length && !r.failed.length) console.log('nothing to clean');
      return r.failed.length ? 1 : 0;
    }
    case 'exec': {
      const a = parseArgs(rest, {}, 'kind exec');
      const [name, node] = a.positionals;
      if (!name || !node || a.rest.length === 0)
        throw usage('kind exec', a.positionals.join(' '), 'usage: kind exec NAME NODE -- CMD...');
      const c = await KindCluster.open(name);
      const [file, ...args] = c.docker.argv(['exec', '--interactive', node, ...a.rest]);
      return new Promise((resolve) => {
        const child = spawn(file!, args, { stdio: 'inherit' });
        child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
        child.on('error', (e) => {
          console.error(e.message);
          resolve(127);
        });
      });
    }
    case 'kubeconfig': {
      const a = parseArgs(rest, {}, 'kind kubeconfig');
      const name = a.positionals[0];
      if (!name) throw usage('kind kubeconfig', '(missing)', 'needs a cluster name');
      console.log((await KindCluster.open(name)).kubeconfig);
      return 0;
    }
    case '-h':
    case '--help':
      console.log(KIND_USAGE);
      return 0;
    default:
      throw usage(
        'kind',
        sub ?? '(missing)',
        `expected up, down, list, clean, exec or kubeconfig\n${KIND_USAGE}`,
      );
  }
}

async function up(argv: readonly string[]): Promise<number> {
  const a = parseArgs(
    argv,
    { values: ['name', 'config', 'workers', 'proxy-mode', 'image'], booleans: ['docker'] },
    'kind up',
  );
  if (a.positionals.length)
    throw usage('kind up', a.positionals.join(' '), 'takes no positional arguments (use --name)');
  const mode = stringFlag(a, 'proxy-mode');
  if (mode !== undefined && mode !== 'iptables' && mode !== 'nftables')
    throw usage('kind up', `--proxy-mode ${mode}`, 'must be iptables or nftables');
  const image = stringFlag(a, 'image');
  if (image && !a.flags.has('docker'))
    throw usage(
      'kind up',
      `--image ${image}`,
      "only with --docker (returnpath's engine uses its own node image)",
    );
  const abort = new AbortController();
  const onSignal = (): void => {
    if (!abort.signal.aborted) console.error('kind up: interrupted; removing what was made');
    abort.abort();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    const t0 = performance.now();
    const workers = intFlag(a, 'workers', 'kind up', 0, 9);
    const c = await KindCluster.up({
      ...(stringFlag(a, 'name') && { name: stringFlag(a, 'name') }),
      ...(stringFlag(a, 'config') && { config: stringFlag(a, 'config') }),
      ...(workers !== undefined && { workers }),
      ...(mode && { kubeProxyMode: mode }),
      ...(image && { image }),
      engine: a.flags.has('docker') ? 'external' : 'private',
      keep: true,
      log: (l) => console.log(`  ${l}`),
      signal: abort.signal,
    });
    const nodes = await c.nodes();
    console.log(`cluster ${c.name} (run ${c.runId}) up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const n of nodes)
      console.log(`  ${n.name.padEnd(28)} ${n.role.padEnd(14)} ${n.address.padEnd(16)} pid ${n.pid}`);
    console.log(`kubeconfig: ${c.kubeconfig}`);
    console.log(
      `next: KUBECONFIG=${c.kubeconfig} kubectl get pods -A | returnpath kind exec ${c.name} NODE -- CMD | returnpath kind down ${c.name}`,
    );
    return 0;
  } catch (e) {
    if (abort.signal.aborted) return 130;
    throw e;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
