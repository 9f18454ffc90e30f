import { expect } from 'chai';
import { classifyErrno, isOutcome } from './outcome.js';

describe('classifyErrno', () => {
  const table: [string | undefined, string][] = [
    ['ECONNREFUSED', 'refused'],
    ['ECONNRESET', 'reset'],
    ['EPIPE', 'reset'],
    ['EHOSTUNREACH', 'unreachable'],
    ['ENETUNREACH', 'unreachable'],
    ['EHOSTDOWN', 'unreachable'],
    ['ETIMEDOUT', 'timeout'],
    ['EADDRNOTAVAIL', 'other'],
    ['EADDRINUSE', 'other'],
    ['EACCES', 'other'],
    [undefined, 'other'],
  ];
  for (const [errno, outcome] of table) {
    it(`${errno ?? '(none)'} → ${outcome}`, () => expect(classifyErrno(errno)).to.equal(outcome));
  }

  it('recognises outcome names', () => {
    expect(isOutcome('timeout')).to.equal(true);
    expect(isOutcome('dropped')).to.equal(false);
  });
});
