/** `returnpath clean --kubeconfig FILE`: sweep what interrupted cluster runs left on a cluster. */
import { cleanCluster } from '../cluster/clean.js';
import { loadKubeConfig } from '../cluster/connect.js';
import type { Args, CommandDecl } from './command.js';
import { UsageError } from './command.js';

export const cleanDecl: CommandDecl = {
  name: 'clean',
  summary:
    'remove what interrupted `run --kubeconfig` runs left on a cluster: namespaces labelled returnpath.dev/run whose run is gone (labs: `lab clean`)',
  options: [
    { name: 'kubeconfig', value: 'FILE', help: 'the cluster (required)' },
    { name: 'context', value: 'NAME', help: "the kubeconfig's context (default: its current one)" },
    { name: 'force', help: 'also remove runs started on another machine' },
  ],
  run: cleanCommand,
};

async function cleanCommand(a: Args): Promise<number> {
  const kubeconfig = a.string('kubeconfig');
  if (kubeconfig === undefined)
    throw new UsageError('clean', '--kubeconfig', 'is required (the lab has `returnpath lab clean`)');
  const context = a.string('context');
  const kc = await loadKubeConfig(kubeconfig, context);
  const r = await cleanCluster(kc, { force: a.flag('force') });
  console.log(
    `removed ${r.removed.length} namespace(s)${r.removed.length ? `: ${r.removed.join(', ')}` : ''}`,
  );
  for (const k of r.kept) console.log(`kept ${k.namespace}: ${k.why}`);
  return 0;
}
