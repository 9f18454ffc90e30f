import { expect } from 'chai';
import { sharedLibraries } from './agent-image.js';

describe('kind agent image: the libraries Node.js needs', () => {
  it("reads ldd's output: resolved libraries and the loader, not the vDSO", () => {
    const ldd = [
      '\tlinux-vdso.so.1 (0x00007ffd2b1f2000)',
      '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f39377f7000)',
      '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f3937400000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f393721e000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f3937810000)',
      '',
    ].join('\n');
    expect(sharedLibraries(ldd)).to.deep.equal([
      '/lib/x86_64-linux-gnu/libdl.so.2',
      '/lib/x86_64-linux-gnu/libstdc++.so.6',
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib64/ld-linux-x86-64.so.2',
    ]);
  });
});
