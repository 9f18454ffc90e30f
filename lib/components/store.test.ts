import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import type { BuildContext, Component } from './component.js';
import { GoModuleComponent } from './go-module.js';
import { buildComponent, cacheRoot, cleanComponents, findBuilt, requireBuilt } from './store.js';

/** A component whose build writes bin/tool; it can be held mid-build or made to fail. */
class FakeComponent implements Component {
  readonly description = 'a test component';
  readonly files = ['bin/tool'];
  readonly coldBuildHint = 'no time';
  builds = 0;
  gate: Promise<void> = Promise.resolve();
  fail = false;
  constructor(
    readonly name: string,
    private readonly v = 'v1.0.0',
  ) {}
  version(): Promise<string> {
    return Promise.resolve(this.v);
  }
  recipe(): Promise<string> {
    return Promise.resolve('fake');
  }
  async build(ctx: BuildContext): Promise<void> {
    this.builds++;
    await mkdir(join(ctx.outDir, 'bin'), { recursive: true });
    await writeFile(join(ctx.outDir, 'bin', 'tool'), `built ${this.builds}`);
    await this.gate;
    if (this.fail) throw new Error('compiler said no');
  }
}

describe('component store', () => {
  let saved: string | undefined;
  beforeEach(async () => {
    saved = process.env['RETURNPATH_CACHE_DIR'];
    process.env['RETURNPATH_CACHE_DIR'] = await mkdtemp(join(tmpdir(), 'rp-cache-'));
  });
  afterEach(async () => {
    await rm(cacheRoot(), { recursive: true, force: true });
    if (saved === undefined) delete process.env['RETURNPATH_CACHE_DIR'];
    else process.env['RETURNPATH_CACHE_DIR'] = saved;
  });

  it('builds once, then answers from the cache, keyed by version', async () => {
    const c = new FakeComponent('fake');
    expect(await findBuilt(c)).to.equal(undefined);
    const first = await buildComponent(c);
    expect(first.state).to.equal('built');
    const second = await buildComponent(c);
    expect(second.state).to.equal('cached');
    expect(c.builds).to.equal(1);
    const b = await requireBuilt(c);
    expect(await readFile(b.path('bin/tool'), 'utf8')).to.equal('built 1');
    expect(b.manifest.version).to.equal('v1.0.0');
    expect(b.dir).to.match(/components\/fake\/v1\.0\.0-[0-9a-f]{12}$/);
    const other = new FakeComponent('fake', 'v2.0.0');
    expect(await findBuilt(other)).to.equal(undefined);
  });

  it('two concurrent builds of one component build it once: the second waits, then finds it', async () => {
    const a = new FakeComponent('shared');
    let open!: () => void;
    a.gate = new Promise((r) => (open = r));
    const b = new FakeComponent('shared');
    const waits: string[] = [];
    const first = buildComponent(a);
    while ((await readdir(join(cacheRoot(), 'components', 'shared')).catch(() => [])).length === 0)
      await new Promise((r) => setTimeout(r, 5));
    const second = buildComponent(b, { log: (l) => waits.push(l) });
    while (!waits.some((l) => l.includes('waiting for another build')))
      await new Promise((r) => setTimeout(r, 5));
    open();
    expect((await first).state).to.equal('built');
    expect((await second).state).to.equal('cached');
    expect(a.builds + b.builds).to.equal(1);
  });

  it('a failed build leaves nothing half-built and says how to build it', async () => {
    const c = new FakeComponent('broken');
    c.fail = true;
    let err: unknown;
    await buildComponent(c).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.equal('compiler said no');
    expect(await readdir(join(cacheRoot(), 'components', 'broken'))).to.deep.equal([]);
    expect(await findBuilt(c)).to.equal(undefined);
    await expectEnvironmentError(
      requireBuilt(c),
      /^broken v1\.0\.0 is not built: run 'returnpath components build broken'/,
    );
  });

  it('clean removes temporary directories of builds that are not running', async () => {
    const dir = join(cacheRoot(), 'components', 'fake');
    await mkdir(join(dir, '.tmp-v1.0.0-0123456789ab-xyz'), { recursive: true });
    const r = await cleanComponents();
    expect(r.removed).to.include(join(dir, '.tmp-v1.0.0-0123456789ab-xyz'));
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it('a missing Go toolchain is an environment error naming what to install', async () => {
    const c = new GoModuleComponent({
      name: 'needs-go',
      description: '',
      version: 'v0.0.1',
      require: {},
      binaries: [],
      env: { PATH: '/nonexistent' },
      coldBuildHint: '',
    });
    await expectEnvironmentError(
      buildComponent(c),
      /Go 1\.26\.6 or newer is needed to build needs-go v0\.0\.1: install it from https:\/\/go\.dev\/dl\//,
    );
    expect(await readdir(join(cacheRoot(), 'components', 'needs-go'))).to.deep.equal([]);
  });
});

async function expectEnvironmentError(p: Promise<unknown>, re: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, 'expected an EnvironmentError').to.be.instanceOf(EnvironmentError);
  expect((e as Error).message).to.match(re);
}
