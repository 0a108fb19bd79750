import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '@hubbub/kernel';
import { CloseStack } from './close-stack.ts';

describe('CloseStack', () => {
  it('closes what started in reverse order, once', async () => {
    const events: string[] = [];
    const stack = new CloseStack(silentLogger);
    await stack.open('a', async () => ({ close: async () => void events.push('a') }));
    stack.defer('b', () => void events.push('b'));
    await stack.start('c', {
      start: async () => void events.push('start c'),
      close: async () => void events.push('c'),
    });
    await Promise.all([stack.close(), stack.close()]);
    await stack.close();
    assert.deepEqual(events, ['start c', 'c', 'b', 'a']);
  });

  it('a part that fails to start is closed and not registered; the error goes on', async () => {
    const events: string[] = [];
    const stack = new CloseStack(silentLogger);
    stack.defer('first', () => void events.push('first'));
    await assert.rejects(
      stack.start('broken', {
        start: async () => {
          throw Object.assign(new Error('no'), { code: 'TEST_START' });
        },
        close: async () => void events.push('broken closed'),
      }),
      { code: 'TEST_START' },
    );
    await assert.rejects(
      stack.open('never', async () => {
        throw new Error('not opened');
      }),
      /not opened/,
    );
    await stack.close();
    assert.deepEqual(events, ['broken closed', 'first']);
  });

  it('a failing close does not keep the others open; close rejects with the first failure, the rest are logged', async () => {
    const events: string[] = [];
    const logged: unknown[] = [];
    const logger = { ...silentLogger, error: (fields: Record<string, unknown>) => void logged.push(fields.part) };
    const stack = new CloseStack(logger);
    stack.defer('a', () => void events.push('a'));
    stack.defer('b', async () => {
      throw new Error('b failed');
    });
    stack.defer('c', async () => {
      throw new Error('c failed');
    });
    stack.defer('d', () => void events.push('d'));
    await assert.rejects(stack.close(), /c failed/);
    assert.deepEqual(events, ['d', 'a']);
    assert.deepEqual(logged, ['b']);
  });
});
