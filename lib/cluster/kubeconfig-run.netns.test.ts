/**
 * End to end: `returnpath run --kubeconfig` against returnpath's own test bed. For each group of
 * baseline and nlb-hairpin cells that share their infrastructure, a lab with a real control plane
 * in serve mode (`lab up FILE --kubernetes --serve`: returnpath as the kubelet and the cloud
 * provider) is the cluster; the backend runs both suites on it through the Kubernetes API only
 * (pods, exec, LoadBalancer Services with the AWS LBC's annotations), and every cell the cluster
 * can run passes, as in the lab, while the others are skipped with the reason. Nothing the run
 * created is left in the cluster afterwards. Needs root and the built kubernetes and etcd.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { runCli } from '../cli/cli-test-support.js';
import { requireKube } from '../kube/test-support.js';
import { cellKey } from '../scenario/cell.js';
import type { RunResults } from '../scenario/result.js';
import { suiteById } from '../../suites/catalog.js';
import { RUN_LABEL } from './manifests.js';
import { testbeds } from './testbed-topology.js';

describe('run --kubeconfig on the lab test bed: baseline and nlb-hairpin through the Kubernetes API', function () {
  this.timeout(1_800_000);
  let tmp: string;
  const cells = [...suiteById('baseline').cells, ...suiteById('nlb-hairpin').cells];
  const beds = testbeds(cells);
  const ran = new Set<string>();

  before(async function () {
    await requireKube(this);
    tmp = await mkdtemp(join(tmpdir(), 'rp-kubeconfig-run-'));
  });
  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  beds.forEach((bed, i) => {
    const name = `${(bed.doc['metadata'] as { name: string }).name} (${bed.cells.length} cells)`;
    it(`test bed ${i + 1}: ${name}`, async () => {
      const file = join(tmp, `bed-${i}.yaml`);
      await writeFile(file, stringify(bed.doc));
      const up = await runCli(['lab', 'up', file, '--kubernetes', '--serve'], { timeoutMs: 300_000 });
      const runId = /^run (\w+):/m.exec(up.stdout)?.[1];
      try {
        expect(up.code, up.stderr + up.stdout).to.equal(0);
        const kubeconfig = /^kubeconfig: (\S+)/m.exec(up.stdout)?.[1];
        expect(kubeconfig, up.stdout).to.be.a('string');
        const r = await runCli(
          [
            'run',
            '--kubeconfig',
            kubeconfig!,
            '--suite',
            'baseline,nlb-hairpin',
            '--results',
            tmp,
            '--run-id',
            `bed-${i}`,
          ],
          { timeoutMs: 1_500_000 },
        );
        const results = JSON.parse(
          await readFile(join(tmp, `bed-${i}`, 'results.json'), 'utf8'),
        ) as RunResults;
        const mine = new Set(bed.cells.map(cellKey));
        for (const c of results.cells) {
          const key = `${c.suite}/${c.id}`;
          if (mine.has(key)) {
            // The lab's verdict for every one of these cells is pass (the suites' own specs).
            expect(c.status, `${key}: ${c.reason}\n${c.error ?? ''}`).to.equal('pass');
            ran.add(key);
          } else {
            expect(c.status, key).to.equal('skipped');
            expect(c.reason).to.match(/^the cluster is not what the cell needs: /);
          }
        }
        expect(r.code, r.stdout.slice(-3000) + r.stderr).to.equal(0);
        expect(r.stdout).to.match(/skipped \(could not run here\):/);
        // Nothing the run created is left: no namespace with a run label, no pod at all.
        const kc = new KubeConfig();
        kc.loadFromFile(kubeconfig!);
        const core = kc.makeApiClient(CoreV1Api);
        expect(
          (await core.listNamespace({ labelSelector: RUN_LABEL })).items.map((n) => n.metadata?.name),
        ).to.deep.equal([]);
        expect((await core.listPodForAllNamespaces()).items.map((p) => p.metadata?.name)).to.deep.equal([]);
      } finally {
        if (runId) await runCli(['lab', 'down', runId, '--force']);
      }
    });
  });

  it('ran every cell of both suites on one test bed or another', () => {
    expect([...ran].sort()).to.deep.equal(cells.map(cellKey).sort());
  });
});
