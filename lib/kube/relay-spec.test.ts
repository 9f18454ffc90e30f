import { expect } from 'chai';
import { ValidationError } from '../errors.js';
import { forwardArg, parseForwards } from './relay-spec.js';

describe('relay forwards', () => {
  it('parse tcp and unix ends in both directions', () => {
    const arg = forwardArg(
      { kind: 'tcp', host: '127.0.0.1', port: 6443 },
      { kind: 'unix', path: '/tmp/a.sock' },
    );
    expect(arg).to.equal('tcp:127.0.0.1:6443=unix:/tmp/a.sock');
    expect(parseForwards([arg, 'unix:/tmp/m.sock=tcp:127.0.0.1:10249'])).to.deep.equal([
      {
        listen: { kind: 'tcp', host: '127.0.0.1', port: 6443 },
        target: { kind: 'unix', path: '/tmp/a.sock' },
        text: arg,
      },
      {
        listen: { kind: 'unix', path: '/tmp/m.sock' },
        target: { kind: 'tcp', host: '127.0.0.1', port: 10249 },
        text: 'unix:/tmp/m.sock=tcp:127.0.0.1:10249',
      },
    ]);
  });

  it('report every bad argument with its position', () => {
    try {
      parseForwards(['tcp:1.2.3:80=unix:/x', 'nonsense', `unix:/${'a'.repeat(120)}=tcp:127.0.0.1:1`]);
      expect.fail('no error');
    } catch (e) {
      expect(e).to.be.instanceOf(ValidationError);
      expect((e as ValidationError).problems.map((p) => p.path)).to.deep.equal([
        '[0].listen',
        '[1]',
        '[2].listen',
      ]);
    }
    expect(() => parseForwards([])).to.throw(ValidationError, /at least one/);
  });
});
