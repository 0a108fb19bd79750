import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandArgs } from './args.ts';

const options = { port: { type: 'string' }, json: { type: 'boolean' } } as const;
const refused = (args: string[], allowPositionals = true) => {
  try {
    parseCommandArgs(args, options, allowPositionals);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'CLI_USAGE');
    return (err as Error).message;
  }
  assert.fail(`accepted ${args.join(' ')}`);
};

describe('parseCommandArgs', () => {
  it('refuses bad flags with CLI_USAGE in its own words, naming the flag and what the command takes', () => {
    assert.equal(refused(['--bogus']), "unknown option '--bogus': this command takes --port, --json (see --help)");
    assert.equal(refused(['--port']), '--port needs a value: --port VALUE');
    assert.equal(refused(['--port', '--json']), '--port needs a value: --port VALUE');
    assert.equal(refused(['--json=yes']), '--json takes no value');
    assert.equal(
      refused(['extra'], false),
      "unexpected argument 'extra': this command takes no arguments, only --port, --json",
    );
    for (const message of [refused(['--bogus']), refused(['--port'])]) {
      assert.doesNotMatch(message, /Unknown option|argument missing|ambiguous/, 'not Node’s text');
    }
  });

  it('parses what is right', () => {
    assert.deepEqual(
      { ...parseCommandArgs(['--port', '1', 'x', '--json'], options).values },
      { port: '1', json: true },
    );
  });
});
