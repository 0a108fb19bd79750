import assert from 'node:assert/strict';
import { it } from 'node:test';
import { exposeSettings } from './app-environment.ts';

it('sets app settings as environment variables and restores the previous values', () => {
  const env: NodeJS.ProcessEnv = { KEPT: 'same', REPLACED: 'old' };
  const restore = exposeSettings({ KEPT: 'same', REPLACED: 'new', ADDED: 'x' }, env);
  assert.deepEqual(env, { KEPT: 'same', REPLACED: 'new', ADDED: 'x' });
  restore();
  assert.deepEqual(env, { KEPT: 'same', REPLACED: 'old' });
});
