import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import { parseSnapshot, snapshotJsonSchema, SNAPSHOT_SCHEMA_ID, validateSnapshot } from './snapshot.js';
import { loadSnapshot } from './snapshot-load.js';
import { resolveSysctlFiles } from './sysctl-precedence.js';
import { toNodeSysctls } from './sysctl-replay.js';

const sample = (p: string): string =>
  fileURLToPath(new URL(`../../../samples/snapshots/${p}`, import.meta.url));

function minimal(): Record<string, unknown> {
  return {
    schema: SNAPSHOT_SCHEMA_ID,
    source: { kind: 'collected', hostname: 'node-a', collectedAt: '2025-01-02T03:04:05Z' },
    kernel: '6.1.0',
    sysctls: { 'net.ipv4.conf.all.rp_filter': '1' },
    sysctlFiles: [],
    ipRules: [],
    routes: {},
    iptables: { backend: 'nf_tables', save: '' },
    interfaces: [],
    networkManagers: [],
  };
}

function problems(data: unknown): { path: string; message: string }[] {
  try {
    validateSnapshot(data, 'test');
  } catch (e) {
    expect(e).to.be.instanceOf(ValidationError);
    return (e as ValidationError).problems.map((p) => ({ path: p.path, message: p.message }));
  }
  throw new Error('expected a ValidationError');
}

describe('certify/snapshot', () => {
  it('accepts a minimal collected snapshot', () => {
    expect(validateSnapshot(minimal()).kernel).to.equal('6.1.0');
  });

  it('reports every problem with its path', () => {
    const bad = minimal();
    bad.schema = 'returnpath/snapshot/v0';
    bad.sysctls = { 'kernel.pid_max': '1', 'net.ipv4.ip_forward': 1 };
    bad.extra = true;
    bad.iptables = { backend: 'nft', save: '' };
    bad.sysctlFiles = [
      {
        path: '/usr/lib/sysctl.d/50-default.conf',
        directory: '/etc/sysctl.d',
        name: '50.conf',
        precedence: 9,
        entries: [{ key: 'net.ipv4 x', value: '1', ignoreErrors: false, line: 0 }],
      },
    ];
    const ps = problems(bad);
    const byPath = Object.fromEntries(ps.map((p) => [p.path, p.message]));
    expect(byPath).to.have.keys(
      'schema',
      'sysctls.kernel.pid_max',
      'sysctls.net.ipv4.ip_forward',
      '',
      'iptables.backend',
      'sysctlFiles[0].precedence',
      'sysctlFiles[0].entries[0].key',
      'sysctlFiles[0].entries[0].line',
    );
    expect(byPath['sysctls.kernel.pid_max']).to.match(/must be a net\.ipv4\.\* key/);
    expect(byPath['']).to.match(/unknown key\(s\) "extra"/);
    // Cross-field checks run once the structure is right.
    const names = minimal();
    names.sysctlFiles = [
      {
        path: '/usr/lib/sysctl.d/50-default.conf',
        directory: '/etc/sysctl.d',
        name: '50.conf',
        precedence: 3,
        entries: [],
      },
    ];
    expect(problems(names).map((p) => p.path)).to.deep.equal([
      'sysctlFiles[0].name',
      'sysctlFiles[0].directory',
    ]);
  });

  it('parseSnapshot names a file that is not JSON', () => {
    expect(() => parseSnapshot('{ nope', 'x.json')).to.throw(
      ValidationError,
      /x\.json: 1 problem.*not JSON/s,
    );
  });

  it('has a JSON schema with its id', () => {
    const s = snapshotJsonSchema();
    expect(s.$id).to.equal(SNAPSHOT_SCHEMA_ID);
    expect(s.type).to.equal('object');
    expect(s.additionalProperties).to.equal(false);
  });

  it('every sample says it is a sample, not collected from a real machine', async () => {
    const dir = sample('');
    for (const name of readdirSync(dir)) {
      if (name === 'README.md') continue;
      const path = sample(name);
      const text = name.endsWith('.json')
        ? ((await loadSnapshot(path)).sample ?? '')
        : name.endsWith('.sysctl')
          ? readFileSync(path, 'utf8')
          : readFileSync(sample(`${name}/README.md`), 'utf8');
      expect(text, name).to.match(/not collected from a real machine/);
      await loadSnapshot(path);
    }
  });

  it('the amazon-linux-2023 sample is consistent with its own sysctl.d files', async () => {
    const s = await loadSnapshot(sample('amazon-linux-2023.json'));
    const res = resolveSysctlFiles(s.sysctlFiles, ['ens5', 'ens6'], { existingKeys: Object.keys(s.sysctls) });
    for (const [key, a] of Object.entries(res.effective))
      if (key in s.sysctls) expect(s.sysctls[key], key).to.equal(a.value.replace(/ /g, '\t'));
    expect(toNodeSysctls(s).notes.join('\n')).not.to.match(/changed it after boot|missing from the snapshot/);
  });
});
