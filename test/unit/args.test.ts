import { parseArgs } from '../../src/cli/args.js';
import { UsageError } from '../../src/errors.js';

describe('parseArgs', () => {
  it.each([
    [[], 'run'],
    [['migrate'], 'migrate'],
    [['--wait', '3s'], 'run'],
    [['status', '--log-format=json'], 'status'],
  ])('%j is the %s command', (argv, command) => {
    expect(parseArgs(argv).command).toBe(command);
  });

  it('reads flags with a space or an equals sign, and the app after --', () => {
    const args = parseArgs([
      'run',
      '--wait',
      '3s',
      '--lock-timeout=2s',
      '--strict',
      '--',
      'node',
      'server.js',
      '--port',
      '80',
    ]);
    expect(args.flags).toEqual({ wait: '3s', 'lock-timeout': '2s' });
    expect(args.switches).toEqual({ strict: true });
    expect(args.exec).toEqual(['node', 'server.js', '--port', '80']);
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--frobnicate'], /unknown flag "--frobnicate"/],
    [['-x'], /unknown flag "-x"/],
    [['--wait'], /--wait needs a value/],
    [['--wait', '--strict'], /--wait needs a value/],
    [['--strict=yes'], /takes no value/],
    [['migrate', '--out', 'x.json'], /--out does not apply to `preflight migrate`/],
    [['migrate', '--', 'node'], /only `preflight run` starts an app/],
    [['run', '--'], /nothing after `--`/],
    [['run', 'server.js'], /put it after `--`/],
    [['new', 'a', 'b'], /unexpected argument "b"/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  it('takes PEM text as the value of --ca-cert', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    expect(parseArgs(['run', '--ca-cert', pem]).flags['ca-cert']).toBe(pem);
    expect(() => parseArgs(['run', '--ca-cert', '--strict'])).toThrow(/--ca-cert needs a value/);
  });

  it('gives usage errors exit code 2', () => {
    try {
      parseArgs(['nope']);
      throw new Error('no error');
    } catch (error) {
      expect((error as UsageError).exitCode).toBe(2);
    }
  });
});
