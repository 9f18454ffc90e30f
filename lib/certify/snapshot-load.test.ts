import { expect } from 'chai';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import { parseSnapshot, serializeSnapshot, type NodeSnapshot } from './snapshot.js';
import { loadSnapshot, parseSysctlDump } from './snapshot-load.js';

const repo = (p: string): string => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
const sample = (p: string): string => repo(`samples/snapshots/${p}`);
const testdata = (p: string): string => repo(`lib/certify/testdata/${p}`);

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('certify/snapshot-load', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'rp-certify-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('loads an image tree (systemd-default sample)', async () => {
    const s = await loadSnapshot(sample('systemd-default'));
    expect(s.source).to.deep.equal({ kind: 'sysctl.d', path: sample('systemd-default') });
    expect(s.kernel).to.equal(null);
    expect(s.sysctls).to.deep.equal({});
    expect(s.sysctlFiles.map((f) => [f.path, f.precedence])).to.deep.equal([
      ['/usr/lib/sysctl.d/50-default.conf', 3],
    ]);
    const rp = s.sysctlFiles[0]?.entries.filter((e) => e.key.endsWith('rp_filter'));
    expect(rp).to.deep.equal([
      { key: 'net.ipv4.conf.default.rp_filter', value: '2', ignoreErrors: false, line: 25 },
      { key: 'net.ipv4.conf.*.rp_filter', value: '2', ignoreErrors: false, line: 26 },
      { key: 'net.ipv4.conf.all.rp_filter', value: null, ignoreErrors: true, line: 27 },
    ]);
  });

  it('loads the hardened tree from etc/sysctl.d', async () => {
    const s = await loadSnapshot(sample('hardened-rp-filter-1'));
    expect(s.sysctlFiles.map((f) => f.path)).to.deep.equal(['/etc/sysctl.d/99-hardening.conf']);
    expect(s.sysctlFiles[0]?.precedence).to.equal(0);
  });

  it('loads a flat sysctl.d directory as the image /etc/sysctl.d, *.conf only', async () => {
    const s = await loadSnapshot(testdata('flat-sysctl.d'));
    expect(s.sysctlFiles.map((f) => f.path)).to.deep.equal(['/etc/sysctl.d/10-rp.conf']);
    expect(s.sysctlFiles[0]?.entries.map((e) => e.key)).to.deep.equal([
      'net/ipv4/conf/eth1/rp_filter',
      'net.ipv4.conf.all.src_valid_mark',
    ]);
    expect(s.notes?.join('\n')).to.match(/read as the image's \/etc\/sysctl\.d/);
  });

  it('loads one *.conf file', async () => {
    const s = await loadSnapshot(testdata('flat-sysctl.d/10-rp.conf'));
    expect(s.sysctlFiles.map((f) => f.path)).to.deep.equal(['/etc/sysctl.d/10-rp.conf']);
  });

  it('loads a sysctl -a dump: net.ipv4 kept, the rest counted', async () => {
    const s = await loadSnapshot(sample('loose.sysctl'));
    expect(s.source.kind).to.equal('sysctl-dump');
    expect(s.sysctls['net.ipv4.conf.eth1.rp_filter']).to.equal('0');
    expect(s.sysctls['net.ipv4.ip_local_port_range']).to.equal('32768\t60999');
    expect(s.sysctls['net.ipv4.ip_local_reserved_ports']).to.equal('');
    expect(s.sysctlsIgnored).to.equal(7);
    expect(Object.keys(s.sysctls).every((k) => k.startsWith('net.ipv4.'))).to.equal(true);
  });

  it('loads a snapshot JSON file (amazon-linux-2023 sample) and round-trips it', async () => {
    const s = await loadSnapshot(sample('amazon-linux-2023.json'));
    expect(s.sample).to.match(/not collected from a real machine/);
    expect(s.interfaces.map((i) => i.name)).to.deep.equal(['lo', 'ens5', 'ens6']);
    expect(parseSnapshot(serializeSnapshot(s))).to.deep.equal(s);
  });

  it('rejects a malformed tree with every file:line, never a partial result', async () => {
    const e = await rejection(loadSnapshot(testdata('bad-tree')));
    expect(e).to.be.instanceOf(ValidationError);
    const v = e as ValidationError;
    const file = testdata('bad-tree/etc/sysctl.d/20-bad.conf');
    expect(v.problems.map((p) => p.path)).to.deep.equal([`${file}:2`, `${file}:3`]);
    expect(v.message).to.match(/allowed: "key = value"/);
  });

  it('rejects a malformed dump with line numbers and what is allowed', async () => {
    const e = (await rejection(loadSnapshot(testdata('bad-dump.sysctl')))) as ValidationError;
    expect(e).to.be.instanceOf(ValidationError);
    expect(e.problems.map((p) => p.path.replace(/^.*\//, ''))).to.deep.equal([
      'bad-dump.sysctl:2',
      'bad-dump.sysctl:4',
    ]);
    expect(e.problems[0]?.message).to.match(/sysctl -a 2>\/dev\/null/);
    expect(e.problems[1]?.message).to.match(/appears twice/);
    expect(() => parseSysctlDump('kernel.pid_max = 1\n', 'x')).to.throw(
      ValidationError,
      /no net\.ipv4\.\* keys/,
    );
  });

  it('missing input is bad input (ValidationError naming it); so is a directory without sysctl files', async () => {
    const missing = await rejection(loadSnapshot(path.join(tmp, 'nope')));
    expect(missing).to.be.instanceOf(ValidationError);
    expect(missing.message).to.contain(path.join(tmp, 'nope'));
    expect(missing.message).to.match(/does not exist/);
    const empty = path.join(tmp, 'empty');
    await mkdir(empty);
    await writeFile(path.join(empty, 'notes.txt'), 'x');
    const e = await rejection(loadSnapshot(empty));
    expect(e).to.be.instanceOf(ValidationError);
    expect(e.message).to.match(/no \*\.conf files and no image tree/);
  });

  it("records an image tree's kernel (its one usr/lib/modules directory), not when there are several", async () => {
    const root = path.join(tmp, 'tree-kernel');
    await mkdir(path.join(root, 'etc/sysctl.d'), { recursive: true });
    await writeFile(path.join(root, 'etc/sysctl.d/10.conf'), 'net.ipv4.ip_forward = 1\n');
    expect((await loadSnapshot(root)).kernel).to.equal(null);
    await mkdir(path.join(root, 'usr/lib/modules/6.1.112-122.189.amzn2023.x86_64'), { recursive: true });
    expect((await loadSnapshot(root)).kernel).to.equal('6.1.112-122.189.amzn2023.x86_64');
    await mkdir(path.join(root, 'usr/lib/modules/6.1.115-126.197.amzn2023.x86_64'));
    const two = await loadSnapshot(root);
    expect(two.kernel).to.equal(null);
    expect(two.notes?.join('\n')).to.match(/several kernels/);
  });

  it('records masks (symlink to /dev/null) and follows symlinks inside the tree', async () => {
    const root = path.join(tmp, 'tree');
    await mkdir(path.join(root, 'etc/sysctl.d'), { recursive: true });
    await mkdir(path.join(root, 'usr/lib/sysctl.d'), { recursive: true });
    await writeFile(
      path.join(root, 'usr/lib/sysctl.d/50-default.conf'),
      'net.ipv4.conf.default.rp_filter = 2\n',
    );
    await symlink('/dev/null', path.join(root, 'etc/sysctl.d/50-default.conf'));
    await writeFile(path.join(root, 'etc/sysctl.conf'), 'net.ipv4.ip_forward = 1\n');
    await symlink('../sysctl.conf', path.join(root, 'etc/sysctl.d/99-sysctl.conf'));
    await symlink('/etc/sysctl.conf', path.join(root, 'etc/sysctl.d/98-abs.conf'));
    await symlink('missing.conf', path.join(root, 'etc/sysctl.d/97-dangling.conf'));
    const s: NodeSnapshot = await loadSnapshot(root);
    const byPath = Object.fromEntries(s.sysctlFiles.map((f) => [f.path, f]));
    expect(byPath['/etc/sysctl.d/50-default.conf']).to.deep.include({ symlink: '/dev/null', entries: [] });
    expect(byPath['/usr/lib/sysctl.d/50-default.conf']?.overriddenBy).to.equal(
      '/etc/sysctl.d/50-default.conf',
    );
    expect(byPath['/etc/sysctl.d/99-sysctl.conf']?.entries.map((e) => e.key)).to.deep.equal([
      'net.ipv4.ip_forward',
    ]);
    expect(byPath['/etc/sysctl.d/98-abs.conf']?.entries).to.have.length(1);
    expect(byPath['/etc/sysctl.conf']?.precedence).to.equal(5);
    expect(byPath).not.to.have.property('/etc/sysctl.d/97-dangling.conf');
    expect(s.notes?.join('\n')).to.match(/dangling symlink/);
  });

  describe('links and special files (nothing outside the input is ever read)', () => {
    let root: string;
    let outside: string;
    before(async () => {
      root = path.join(tmp, 'linked');
      outside = path.join(tmp, 'outside');
      await mkdir(path.join(root, 'etc/sysctl.d'), { recursive: true });
      await mkdir(path.join(root, 'usr/lib'), { recursive: true });
      await mkdir(outside, { recursive: true });
      await writeFile(path.join(outside, 'strict.conf'), 'net.ipv4.conf.all.rp_filter = 1\n');
      await writeFile(
        path.join(outside, 'passwd'),
        'root:x:0:0:root:/root:/bin/bash\nsecret:x:1:1::/:/bin/sh\n',
      );
      const up = '../'.repeat(12);
      // A chain whose first hop stays inside and whose second leaves it (relative, then absolute).
      await symlink('../hop-passwd', path.join(root, 'etc/sysctl.d/10-passwd.conf'));
      await symlink(`${up}${path.join(outside, 'passwd').slice(1)}`, path.join(root, 'etc/hop-passwd'));
      await symlink('../hop-strict', path.join(root, 'etc/sysctl.d/20-strict.conf'));
      await symlink(path.join(outside, 'strict.conf'), path.join(root, 'etc/hop-strict'));
      // A directory that is a link to the host's own: absolute targets are taken inside the tree.
      await symlink('/usr/lib/sysctl.d', path.join(root, 'usr/lib/sysctl.d'));
      await symlink('/dev/zero', path.join(root, 'etc/sysctl.d/30-zero.conf'));
      await writeFile(path.join(root, 'etc/sysctl.d/40-own.conf'), 'net.ipv4.ip_forward = 1\n');
    });

    it('never follows a link out of the tree, in any hop, and says so; never applies what is outside', async () => {
      const s = await loadSnapshot(root);
      const text = JSON.stringify(s);
      expect(text).not.to.contain('root:x:0:0');
      expect(text).not.to.contain('secret');
      const keys = s.sysctlFiles.flatMap((f) => f.entries.map((e) => `${f.path}: ${e.key}=${e.value}`));
      expect(keys).to.deep.equal(['/etc/sysctl.d/40-own.conf: net.ipv4.ip_forward=1']);
      const notes = s.notes?.join('\n') ?? '';
      expect(notes).to.match(
        /10-passwd\.conf: a link leads outside the input \(\/etc\/hop-passwd -> (\.\.\/)+/,
      );
      // The absolute second hop is taken inside the tree, where it does not exist.
      expect(notes).to.match(/20-strict\.conf -> \.\.\/hop-strict: dangling symlink/);
      expect(notes).to.match(/30-zero\.conf -> \/dev\/zero: dangling symlink/);
      // usr/lib/sysctl.d -> /usr/lib/sysctl.d points at itself inside the tree: a loop, not the host's directory.
      expect(notes).to.match(
        /\/usr\/lib\/sysctl\.d leads outside the tree \(.*too many levels of symbolic links\)/,
      );
    });

    it('a flat directory: a link out of it is reported, not read', async () => {
      const flat = path.join(tmp, 'flat-linked');
      await mkdir(flat);
      await symlink(path.join(outside, 'strict.conf'), path.join(flat, '10-abs.conf'));
      await symlink('../outside/strict.conf', path.join(flat, '20-rel.conf'));
      await writeFile(path.join(flat, '30-own.conf'), 'net.ipv4.ip_forward = 1\n');
      const s = await loadSnapshot(flat);
      expect(s.sysctlFiles.flatMap((f) => f.entries.map((e) => e.key))).to.deep.equal([
        'net.ipv4.ip_forward',
      ]);
      expect(s.notes?.join('\n')).to.match(/10-abs\.conf: a link leads outside the input/);
      expect(s.notes?.join('\n')).to.match(/20-rel\.conf: a link leads outside the input/);
    });

    it('a file that is not a sysctl file is refused without showing its contents', async () => {
      for (const input of [path.join(outside, 'passwd'), path.join(outside, 'passwd.conf')]) {
        if (input.endsWith('.conf')) await writeFile(input, 'root:x:0:0:root:/root:/bin/bash\n');
        const e = await rejection(loadSnapshot(input));
        expect(e, input).to.be.instanceOf(ValidationError);
        expect(e.message).to.match(/is not a sysctl file/);
        expect(e.message).to.match(/contents not shown/);
        expect(e.message).not.to.contain('root:x');
      }
    });

    it('refuses devices and /proc files with a clear message', async () => {
      for (const [input, re] of [
        ['/dev/zero', /is a character device, not a file/],
        ['/proc/sys/net/ipv4/conf/all/rp_filter', /kernel pseudo-file under \/proc/],
        ['/proc/self/status', /kernel pseudo-file under \/proc/],
      ] as const) {
        const e = await rejection(loadSnapshot(input));
        expect(e, input).to.be.instanceOf(ValidationError);
        expect(e.message, input).to.match(re);
      }
    });
  });
});
