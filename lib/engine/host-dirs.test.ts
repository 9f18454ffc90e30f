import { expect } from 'chai';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimHostDirs, releaseHostDirs } from './host-dirs.js';

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

describe('engine: host directories returnpath makes', () => {
  let root: string;
  let saved: string | undefined;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'rp-host-dirs-'));
    saved = process.env['RETURNPATH_DATA_DIR'];
    process.env['RETURNPATH_DATA_DIR'] = join(root, 'data');
  });
  afterEach(async () => {
    if (saved === undefined) delete process.env['RETURNPATH_DATA_DIR'];
    else process.env['RETURNPATH_DATA_DIR'] = saved;
    await rm(root, { recursive: true, force: true });
  });

  it('records only what it created, and removes it when nothing needs it any more', async () => {
    await mkdir(join(root, 'run/docker'), { recursive: true });
    const created = await claimHostDirs([
      { path: join(root, 'run/containerd/s'), mode: 0o700 },
      { path: join(root, 'run/docker/plugins'), mode: 0o700 },
    ]);
    expect(created).to.deep.equal([
      join(root, 'run/containerd'),
      join(root, 'run/containerd/s'),
      join(root, 'run/docker/plugins'),
    ]);
    expect(await claimHostDirs([{ path: join(root, 'run/containerd/s'), mode: 0o700 }])).to.deep.equal([]);

    expect(await releaseHostDirs(() => Promise.resolve(true))).to.deep.equal([]);
    expect(await exists(join(root, 'run/containerd/s'))).to.equal(true);

    const removed = await releaseHostDirs(() => Promise.resolve(false));
    expect(removed.sort()).to.deep.equal(created.sort());
    expect(await exists(join(root, 'run/docker'))).to.equal(true);
    expect(JSON.parse(await readFile(join(root, 'data/host-dirs.json'), 'utf8'))).to.deep.equal([]);
  });

  it('leaves a directory something put files in, and tries again next time', async () => {
    const dir = join(root, 'lib/modules');
    await claimHostDirs([{ path: dir, mode: 0o755 }]);
    await writeFile(join(dir, 'someone-elses'), '');
    expect(await releaseHostDirs(() => Promise.resolve(false))).to.deep.equal([]);
    expect(await exists(dir)).to.equal(true);
    await rm(join(dir, 'someone-elses'));
    expect(await releaseHostDirs(() => Promise.resolve(false))).to.include(dir);
    expect(await exists(dir)).to.equal(false);
  });
});
