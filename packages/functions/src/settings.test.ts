import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionValue, parseConnectionString, resolveBindingSettings, resolveSettingRefs } from './settings.ts';

const scope = { functionName: 'fn', binding: 'b' };

describe('settings', () => {
  it('resolves %Name% references and names a missing one', () => {
    assert.equal(resolveSettingRefs('%A%-%B%', { A: 'x', B: 'y' }, scope), 'x-y');
    assert.equal(resolveSettingRefs('100%', {}, scope), '100%');
    assert.throws(
      () => resolveSettingRefs('%Missing%', {}, scope),
      (err: { code: string; detail: { setting: string } }) => {
        assert.equal(err.code, 'FUNCTIONS_INVALID_SETTING');
        assert.equal(err.detail.setting, 'Missing');
        return true;
      },
    );
    assert.deepEqual(resolveBindingSettings({ q: '%Q%', n: 3, list: ['%Q%', 1] }, { Q: 'orders' }, scope), {
      q: 'orders',
      n: 3,
      list: ['orders', 1],
    });
  });

  it('looks up connections as name, then AzureWebJobs<name>', () => {
    assert.equal(connectionValue({ Bus: 'a' }, 'Bus', scope), 'a');
    assert.equal(connectionValue({ AzureWebJobsBus: 'b' }, 'Bus', scope), 'b');
    assert.throws(() => connectionValue({ Bus: ' ' }, 'Bus', scope), { code: 'FUNCTIONS_INVALID_SETTING' });
  });

  it('parses connection strings', () => {
    assert.deepEqual(parseConnectionString('Endpoint=http://x;AccessKey=k==;Version=1.0;'), {
      endpoint: 'http://x',
      accesskey: 'k==',
      version: '1.0',
    });
  });
});
