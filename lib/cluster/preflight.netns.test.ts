/**
 * Integration: what `run --kubeconfig` and `clean --kubeconfig` do before and after cells, against
 * a real apiserver (the lab's control plane; needs root and the built kubernetes and etcd):
 * refused credentials, missing permissions (listed), a namespace that is not returnpath's, and
 * clean removing only the namespaces of runs that are gone.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { KubeEnvironment, type SlotLease } from '../kube/environment.js';
import { requireKube } from '../kube/test-support.js';
import { runCli } from '../cli/cli-test-support.js';
import { cleanCluster } from './clean.js';
import { OWNER_ANNOTATION, RUN_LABEL } from './manifests.js';

describe('cluster runs against a real apiserver: preflight and clean', function () {
  this.timeout(240_000);
  let env: KubeEnvironment;
  let lease: SlotLease;
  let admin: KubeConfig;
  let tmp: string;

  before(async function () {
    await requireKube(this);
    env = new KubeEnvironment({ slots: 1 });
    lease = await env.lease();
    admin = await lease.slot.adminConfig();
    tmp = await mkdtemp(join(tmpdir(), 'rp-preflight-'));
  });
  after(async () => {
    lease?.release();
    await env?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const write = async (name: string, text: string): Promise<string> => {
    const f = join(tmp, name);
    await writeFile(f, text, { mode: 0o600 });
    return f;
  };

  it('refuses credentials the apiserver does not accept (exit 2, 401 named)', async () => {
    const kc = parse(await lease.slot.kubeconfig('admin')) as { users: { user: Record<string, unknown> }[] };
    kc.users[0]!.user = { token: 'not-a-token-of-this-cluster' };
    const r = await runCli([
      'run',
      '--kubeconfig',
      await write('bad-token', stringify(kc)),
      '--suite',
      'baseline',
    ]);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.contain('were refused (401 Unauthorized)');
  });

  it('lists the permissions a user lacks (kube-proxy may read, not create)', async () => {
    const f = await write('kube-proxy', await lease.slot.kubeconfig('kube-proxy'));
    const r = await runCli(['run', '--kubeconfig', f, '--suite', 'baseline']);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/lacks \d+ permission\(s\) returnpath needs: /);
    for (const p of ['create namespaces (cluster-wide)', 'create pods/exec', 'create services'])
      expect(r.stderr).to.contain(p);
    // What kube-proxy may do is not listed.
    expect(r.stderr).not.to.contain('list nodes');
  });

  it("refuses a namespace that exists and is not returnpath's, and leaves it alone", async () => {
    const core = admin.makeApiClient((await import('@kubernetes/client-node')).CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'users-own' } } });
    try {
      const f = await write('admin', await lease.slot.kubeconfig('admin'));
      const r = await runCli(['run', '--kubeconfig', f, '--namespace', 'users-own', '--suite', 'baseline']);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.contain("namespace users-own exists and is not returnpath's");
      const ns = await core.readNamespace({ name: 'users-own' });
      expect(ns.metadata?.deletionTimestamp).to.equal(undefined);
    } finally {
      await core.deleteNamespace({ name: 'users-own' });
    }
  });

  it('clean removes the namespaces of runs that are gone, keeps live and foreign ones, touches nothing else', async () => {
    const { CoreV1Api } = await import('@kubernetes/client-node');
    const core = admin.makeApiClient(CoreV1Api);
    const { hostname } = await import('node:os');
    const { processStartTime } = await import('../exec/process-identity.js');
    const ns = (name: string, owner?: string, labelled = true) => ({
      metadata: {
        name,
        ...(labelled && { labels: { [RUN_LABEL]: name } }),
        ...(owner && { annotations: { [OWNER_ANNOTATION]: owner } }),
      },
    });
    const live = `${hostname()}/${process.pid}/${processStartTime(process.pid)}`;
    await core.createNamespace({ body: ns('rp-gone', `${hostname()}/999999999/1`) });
    await core.createNamespace({ body: ns('rp-live', live) });
    await core.createNamespace({ body: ns('rp-elsewhere', 'another-machine/42/42') });
    await core.createNamespace({ body: ns('not-ours', undefined, false) });
    try {
      const r = await cleanCluster(admin);
      expect(r.removed).to.deep.equal(['rp-gone']);
      expect(r.kept.map((k) => k.namespace).sort()).to.deep.equal(['rp-elsewhere', 'rp-live']);
      const left = (await core.listNamespace()).items.map((n) => n.metadata!.name!);
      expect(left).to.include.members(['rp-live', 'rp-elsewhere', 'not-ours']);
      expect(left).not.to.include('rp-gone');
      const forced = await cleanCluster(admin, { force: true });
      expect(forced.removed).to.deep.equal(['rp-elsewhere']);
    } finally {
      for (const n of ['rp-live', 'rp-elsewhere', 'not-ours'])
        await core.deleteNamespace({ name: n }).catch(() => undefined);
    }
  });
});
