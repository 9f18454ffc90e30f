import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { CommandRunner } from '../exec/command.js';
import { renderKubeconfig } from './kubeconfig.js';
import { generatePki, subjectAltName, subjectArg } from './pki.js';

describe('control plane PKI (openssl)', () => {
  let dir: string;
  const runner = new CommandRunner();
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'rp-pki-test-'))));
  after(async () => rm(dir, { recursive: true, force: true }));

  it('subjects and SANs are written as openssl takes them', () => {
    expect(subjectArg({ cn: 'returnpath-admin', o: 'system:masters' })).to.equal(
      '/O=system:masters/CN=returnpath-admin',
    );
    expect(subjectAltName(['127.0.0.1', '127.0.0.1', '127.9.9.10'], ['kubernetes'])).to.equal(
      'DNS:kubernetes,IP:127.0.0.1,IP:127.9.9.10',
    );
  });

  it('signs a serving certificate for every address and client certificates RBAC knows, all verifying against the CA', async () => {
    const pki = await generatePki(runner, join(dir, 'pki'), {
      ips: ['127.0.0.1', '127.42.7.10'],
      kubeletIps: ['127.42.7.2'],
    });
    const text = (f: string) =>
      runner.run(['openssl', 'x509', '-in', f, '-noout', '-text']).then((r) => r.stdout);
    const server = await text(pki.serverCert);
    expect(server).to.match(/IP Address:127\.0\.0\.1, IP Address:127\.42\.7\.10/);
    expect(server).to.match(/TLS Web Server Authentication/);
    for (const [user, subject] of [
      ['admin', /O\s*=\s*system:masters, CN\s*=\s*returnpath-admin/],
      ['kube-proxy', /CN\s*=\s*system:kube-proxy/],
      ['kube-controller-manager', /CN\s*=\s*system:kube-controller-manager/],
      ['apiserver-kubelet-client', /O\s*=\s*system:masters, CN\s*=\s*kube-apiserver-kubelet-client/],
    ] as const) {
      const c = pki.client[user];
      expect(await text(c.cert))
        .to.match(subject)
        .and.match(/TLS Web Client Authentication/);
      const v = await runner.run(['openssl', 'verify', '-CAfile', pki.caCert, c.cert]);
      expect(v.stdout.trim()).to.equal(`${c.cert}: OK`);
    }
    const kubelet = await text(pki.kubeletCert);
    expect(kubelet)
      .to.match(/IP Address:127\.42\.7\.2\b/)
      .and.match(/TLS Web Server Authentication/);
    const kv = await runner.run(['openssl', 'verify', '-CAfile', pki.caCert, pki.kubeletCert]);
    expect(kv.stdout.trim()).to.equal(`${pki.kubeletCert}: OK`);
    const kc = parse(await renderKubeconfig(pki, { server: 'https://127.42.7.10:6443', user: 'kube-proxy' }));
    expect(kc.clusters[0].cluster.server).to.equal('https://127.42.7.10:6443');
    expect(Buffer.from(kc.users[0].user['client-certificate-data'], 'base64').toString()).to.equal(
      await readFile(pki.client['kube-proxy'].cert, 'utf8'),
    );
  });
});
