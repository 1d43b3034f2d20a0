import { versionNumOf } from '../../src/connection/server-version.js';

describe('versionNumOf', () => {
  it.each([
    ['15.20 (Debian 15.20-0+deb12u1)', 150020],
    ['14.23', 140023],
    ['18.4', 180004],
    ['18beta1', 180000],
    ['17devel', 170000],
    ['16.1 on x86_64-pc-linux-gnu', 160001],
  ])('reads %s as %d', (text, expected) => {
    expect(versionNumOf(text)).toBe(expected);
  });

  it.each(['', 'PostgreSQL', '9.6.24', 'x15.2'])('leaves %j unread', (text) => {
    expect(versionNumOf(text)).toBeUndefined();
  });
});
