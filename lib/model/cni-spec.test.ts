import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import { VERSIONS } from '../components/versions.js';
import { baseSpec } from './topology.test.js';
import { realCni, validateTopology, type Topology } from './topology.js';
import type { TopologyInput } from './schema.js';

function check(cni: unknown, opts: { baseDir?: string; node?: boolean } = {}): string[] & Topology {
  const s = baseSpec() as TopologyInput & Record<string, unknown>;
  if (opts.node) (s.nodes[0] as Record<string, unknown>)['cni'] = cni;
  else s.defaults = { cni: cni as never };
  try {
    return validateTopology(s, 'spec', opts.baseDir ? { baseDir: opts.baseDir } : {}) as string[] & Topology;
  } catch (e) {
    if (e instanceof ValidationError)
      return e.problems.map((p) => `${p.path}: ${p.message} (got ${p.value})`) as string[] & Topology;
    throw e;
  }
}

describe('topology: CNI implementations', () => {
  it('keeps the emulation the default and resolves a real VPC CNI', () => {
    const t = check({ profile: 'vpc-cni' }) as Topology;
    expect(t.nodes[0]!.cni).to.deep.include({
      profile: 'vpc-cni',
      implementation: 'emulated',
      vethPrefix: 'eni',
      connmark: 0x80,
    });
    expect(realCni(t.nodes[0]!.cni)).to.equal(false);
    const r = check({
      profile: 'vpc-cni-legacy',
      implementation: 'real',
      version: VERSIONS.vpcCniLegacy,
    }) as Topology;
    expect(realCni(r.nodes[1]!.cni)).to.equal(true);
  });

  it('names an unknown version and what is allowed', () => {
    expect(
      check({ profile: 'vpc-cni', implementation: 'real', version: 'v1.99.0' }, { node: true }),
    ).to.deep.equal([
      `nodes[0].cni.version: is not a version returnpath builds for vpc-cni; allowed: ${VERSIONS.vpcCni} (or build: DIR for your own build) (got "v1.99.0")`,
    ]);
    expect(check({ profile: 'vpc-cni', version: VERSIONS.vpcCni })).to.deep.equal([
      `defaults.cni.version: applies to implementation: real only (the emulation has no version) (got "${VERSIONS.vpcCni}")`,
    ]);
    expect(
      check({ profile: 'vpc-cni', implementation: 'real', version: VERSIONS.vpcCni, build: '/x' }),
    ).to.have.length(1);
  });

  it('rejects options the generation does not have, and bad values with what is allowed', () => {
    expect(check({ profile: 'vpc-cni-legacy', externalServiceCidrs: ['192.168.0.0/16'] })[0]).to.match(
      /^defaults\.cni\.externalServiceCidrs: AWS_EXTERNAL_SERVICE_CIDRS \(rule 1535\) came with v1\.8/,
    );
    expect(check({ profile: 'vpc-cni', vethPrefix: 'toolong' })[0]).to.match(
      /^defaults\.cni\.vethPrefix: must be 1-4/,
    );
    expect(check({ profile: 'vpc-cni', implementation: 'rea1' })[0]).to.match(
      /^defaults\.cni\.implementation: /,
    );
    expect(check({ profile: 'vpc-cni', randomizeSNAT: 'yes' })[0]).to.match(
      /^defaults\.cni\.randomizeSNAT: /,
    );
  });

  it('resolves a build directory relative to the topology file', () => {
    const t = check(
      { profile: 'vpc-cni', implementation: 'real', build: 'builds/head' },
      { baseDir: '/srv/gate' },
    ) as Topology;
    expect(t.nodes[0]!.cni).to.deep.include({ build: '/srv/gate/builds/head' });
  });

  describe('plugin profile (any CNI)', () => {
    let dir: string;
    beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'rp-conflist-'))));
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('reads a conflist file relative to the topology file and validates it', async () => {
      await writeFile(
        join(dir, 'net.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'lab',
          plugins: [{ type: 'ptp', ipam: { type: 'host-local' } }],
        }),
      );
      const t = check({ profile: 'plugin', conflist: 'net.conflist' }, { baseDir: dir }) as Topology;
      const cni = t.nodes[0]!.cni;
      expect(cni.profile).to.equal('plugin');
      if (cni.profile !== 'plugin') return;
      expect(cni.conflist.plugins[0]).to.deep.include({ type: 'ptp', ipam: { type: 'host-local' } });
      expect(cni.conflistFile).to.equal(join(dir, 'net.conflist'));
      expect(cni.binDir).to.equal('/usr/lib/cni');
    });

    it('names every problem of an invalid conflist with its path inside the topology', async () => {
      await writeFile(join(dir, 'bad.conflist'), '{ "cniVersion": "1.0.0", ');
      expect(check({ profile: 'plugin', conflist: 'bad.conflist' }, { baseDir: dir })[0]).to.match(
        /^defaults\.cni\.conflist: .*bad\.conflist is not JSON/,
      );
      expect(check({ profile: 'plugin', conflist: 'missing.conflist' }, { baseDir: dir })[0]).to.match(
        /^defaults\.cni\.conflist: cannot read .*missing\.conflist: ENOENT/,
      );
      expect(
        check(
          { profile: 'plugin', conflist: { cniVersion: '9.9.9', name: 'x', plugins: [{ type: 'a/b' }] } },
          { node: true },
        ),
      ).to.deep.equal([
        'nodes[0].cni.conflist.cniVersion: must be one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0 (got "9.9.9")',
        'nodes[0].cni.conflist.plugins[0].type: must name a plugin binary in CNI_PATH: letters, digits, "_", ".", "-", no "/" (got "a/b")',
      ]);
    });
  });
});
