import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import {
  buildCertificate,
  certifySchemaFiles,
  parseCertificate,
  serializeCertificate,
  summarizeCertificate,
  validateCertificate,
  type CertificateInput,
} from './certificate.js';
import { escapeHtml, renderCertificateHtml } from './certificate-html.js';

const repo = (p: string): string => fileURLToPath(new URL(`../../../${p}`, import.meta.url));

function input(over: Partial<CertificateInput> = {}): CertificateInput {
  return {
    returnpath: { version: '0.1.0', commit: '0123456789abcdef0123456789abcdef01234567', dirty: false },
    lab: { kernel: '6.18.44' },
    image: {
      name: null,
      source: { kind: 'sysctl.d', path: 'samples/snapshots/hardened-rp-filter-1' },
      kernel: null,
      notes: ['rp_filter=1 on conf/all comes from /etc/sysctl.d/99-hardening.conf:6'],
      sysctls: { 'net.ipv4.conf.all.rp_filter': 1, 'net.ipv4.ip_local_port_range': '32768\t60999' },
    },
    cni: 'vpc-cni',
    profile: 'eks-default',
    requiredPaths: ['nlb-instance', 'secondary-eni-pod'],
    paths: [
      {
        id: 'nlb-instance',
        title: 'NLB instance target, Cluster policy',
        status: 'supported',
        cells: [{ suite: 'nlb', id: 'instance-cluster', status: 'pass' }],
        evidence: [],
      },
      {
        id: 'secondary-eni-pod',
        title: 'Pod on a secondary ENI behind an NLB',
        status: 'unsupported',
        mechanism:
          'conf/all rp_filter=1 makes eth1 strict: the reply route to the client leaves through eth0, so the SYN is dropped.',
        fix: 'net.ipv4.conf.eth1.rp_filter=2 with vpc-cni >= 1.8',
        cells: [{ suite: 'rp-filter', id: 'eth1-strict', status: 'fail' }],
        evidence: ['TcpExtIPReversePathFilter +12 on node-1'],
      },
      {
        id: 'hairpin',
        title: 'Hairpin through an internal NLB',
        status: 'error',
        cells: [{ suite: 'nlb', id: 'hairpin', status: 'error' }],
        evidence: ['lab: namespace creation failed'],
      },
    ],
    runId: 'run-20250102-1',
    generatedAt: new Date('2025-01-02T03:04:05Z'),
    ...over,
  };
}

describe('certify/certificate', () => {
  it('derives required, supported and certified', () => {
    const c = buildCertificate(input());
    expect(c.schema).to.equal('returnpath/certificate/v1');
    expect(c.paths.map((p) => [p.id, p.required, p.supported])).to.deep.equal([
      ['nlb-instance', true, true],
      ['secondary-eni-pod', true, false],
      ['hairpin', false, false],
    ]);
    expect(c.certified).to.equal(false);
    expect(c.generatedAt).to.equal('2025-01-02T03:04:05.000Z');
    expect(parseCertificate(serializeCertificate(c))).to.deep.equal(c);
    expect(summarizeCertificate(c)).to.equal(
      'NOT CERTIFIED samples/snapshots/hardened-rp-filter-1 (vpc-cni, eks-default): 1/2 required paths supported; ' +
        'failing: secondary-eni-pod (unsupported)',
    );
    const ok = buildCertificate(input({ requiredPaths: ['nlb-instance'] }));
    expect(ok.certified).to.equal(true);
    expect(summarizeCertificate(ok)).to.match(/^CERTIFIED .*1\/1 required paths supported$/);
  });

  it('an error is never a pass: a required path in error fails the certificate', () => {
    expect(buildCertificate(input({ requiredPaths: ['nlb-instance', 'hairpin'] })).certified).to.equal(false);
  });

  it('rejects inconsistent certificates with precise paths', () => {
    const c = JSON.parse(serializeCertificate(buildCertificate(input()))) as Record<string, unknown> & {
      paths: Record<string, unknown>[];
    };
    c.certified = true;
    (c.paths[0] as Record<string, unknown>).supported = false;
    delete (c.paths[1] as Record<string, unknown>).mechanism;
    (c.requiredPaths as string[]).push('nope');
    try {
      validateCertificate(c);
      expect.fail('expected a ValidationError');
    } catch (e) {
      expect(e).to.be.instanceOf(ValidationError);
      expect((e as ValidationError).problems.map((p) => p.path)).to.have.members([
        'paths[0].supported',
        'paths[1].mechanism',
        'requiredPaths[2]',
        'certified',
      ]);
    }
    expect(() => parseCertificate('{"schema":"returnpath/certificate/v0"}', 'c.json')).to.throw(
      ValidationError,
      /schema/,
    );
    expect(() => parseCertificate('nope', 'c.json')).to.throw(ValidationError, /not JSON/);
  });

  it('records the returnpath that certified, the lab kernel, the image name and the image kernel', () => {
    const c = buildCertificate(
      input({ image: { ...input().image, name: 'ami-0123456789abcdef0', kernel: '6.1.112-amzn2023' } }),
    );
    expect(c.returnpath).to.deep.equal({
      version: '0.1.0',
      commit: '0123456789abcdef0123456789abcdef01234567',
      dirty: false,
    });
    expect(c.lab.kernel).to.equal('6.18.44');
    expect(c.image.name).to.equal('ami-0123456789abcdef0');
    expect(c.image.kernel).to.equal('6.1.112-amzn2023');
    expect(summarizeCertificate(c)).to.match(/^NOT CERTIFIED ami-0123456789abcdef0 /);
    const html = renderCertificateHtml(c);
    for (const s of [
      'ami-0123456789abcdef0',
      '6.1.112-amzn2023',
      '6.18.44',
      '0123456789abcdef0123456789abcdef01234567',
    ])
      expect(html).to.contain(s);
    const { returnpath: _r, ...without } = c;
    expect(() => validateCertificate(without)).to.throw(ValidationError, /returnpath/);
  });

  it('renders self-contained HTML, escaping every string', () => {
    const evil = '<script>alert("x")</script> & \'quoted\'';
    const c = buildCertificate(
      input({
        runId: 'run"><img src=x>',
        paths: [
          {
            id: 'nlb-instance',
            title: evil,
            status: 'unsupported',
            mechanism: `mechanism ${evil}`,
            fix: 'a=b && c<d',
            cells: [{ suite: '<s>', id: 'x&y', status: 'fail' }],
            evidence: [evil],
          },
        ],
        requiredPaths: ['nlb-instance'],
      }),
    );
    const html = renderCertificateHtml(c);
    expect(html).to.match(/^<!DOCTYPE html>/);
    expect(html).not.to.include('<script');
    expect(html).not.to.include('<img');
    expect(html).not.to.match(/<link|src=["']?https?:|href=["']https?:/);
    expect(html).to.include('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;quoted&#39;');
    expect(html).to.include('a=b &#38;&#38; c&#60;d');
    expect(html).to.include('NOT CERTIFIED');
    expect(html).to.include('net.ipv4.ip_local_port_range = 32768\t60999');
    expect(escapeHtml(`<>&"'`)).to.equal('&#60;&#62;&#38;&#34;&#39;');
  });

  it('schemas/*.schema.json are the generated ones (run write-schemas after changing a schema)', () => {
    for (const f of certifySchemaFiles()) {
      const onDisk = JSON.parse(readFileSync(repo(f.path), 'utf8')) as unknown;
      expect(
        onDisk,
        `${f.path} is stale: npm run build && node dist/lib/certify/write-schemas.js`,
      ).to.deep.equal(JSON.parse(JSON.stringify(f.schema)));
    }
  });
});
