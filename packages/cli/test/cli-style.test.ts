/** One CLI style: --version, and unknown commands and options as coded errors in the CLI's words. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ran, hubbub as run } from '@hubbub/test-kit';

const root = new URL('../../../', import.meta.url).pathname;
const hubbub = (args: string[]) => ran(run(args, { HUBBUB_BUS_URL: '', HUBBUB_BUS_KEY: '' }, root));

describe('one CLI style', () => {
  it('--version prints the version; an unknown command or option is a coded error in the CLI’s words', async () => {
    const version = await hubbub(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^hubbub \d+\.\d+\.\d+ \(Node\.js v\d+/);
    const unknown = await hubbub(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate': the commands are .*\bsend\b.*\[CLI_UNKNOWN_COMMAND\]/);
    const option = await hubbub(['send', 'q', 'x', '--bogus']);
    assert.equal(option.code, 1);
    assert.match(
      option.stderr,
      /^hubbub: unknown option '--bogus': this command takes --url, .* \(see --help\) \[CLI_USAGE\]\n$/,
    );
    const value = await hubbub(['peek', 'q', '--count']);
    assert.match(value.stderr, /^hubbub: --count needs a value: --count VALUE \[CLI_USAGE\]\n$/);
  });
});
