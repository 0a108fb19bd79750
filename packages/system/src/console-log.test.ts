import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consoleLogger } from './console-log.ts';

describe('consoleLogger (the commands’ --log-level / --log-format)', () => {
  it('refuses an unknown level or format with CLI_USAGE naming the flag', () => {
    assert.throws(() => consoleLogger({ format: 'xml' }), { code: 'CLI_USAGE', message: /^--log-format: 'xml'/ });
    assert.throws(() => consoleLogger({ level: 'loud' }), { code: 'CLI_USAGE', message: /^--log-level: 'loud'/ });
  });

  it('takes $HUBBUB_LOG_FORMAT when no flag is given, and checks it too', () => {
    const before = process.env.HUBBUB_LOG_FORMAT;
    process.env.HUBBUB_LOG_FORMAT = 'yaml';
    try {
      assert.throws(() => consoleLogger({}), { code: 'CLI_USAGE' });
      assert.equal(typeof consoleLogger({ format: 'json' }).info, 'function', 'the flag wins');
    } finally {
      if (before === undefined) delete process.env.HUBBUB_LOG_FORMAT;
      else process.env.HUBBUB_LOG_FORMAT = before;
    }
  });
});
