/**
 * The installation repository's read cache on a one-owner store: reads after this repository's own
 * writes are fresh, a read racing a write does not cache what it read, and what a caller gets is a
 * copy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleInstallation } from '@hubbub/push/conformance';
import { createStore } from '@hubbub/store';
import { createStoreInstallationRepository } from '../src/bridges/push-store.ts';

describe('the store installation repository with its read cache (memory store: one owner)', () => {
  it('serves reads from the cache, and every write through it is seen at once', async () => {
    await using store = createStore({ url: 'memory://' });
    await store.start();
    const repository = createStoreInstallationRepository(store, { cachedInstallations: 10 });
    assert.equal(await repository.get('a'), undefined);
    await repository.put(sampleInstallation('a', { tags: ['one'] }));
    assert.deepEqual((await repository.get('a'))?.tags, ['one']);
    await repository.put(sampleInstallation('a', { tags: ['two'] }));
    assert.deepEqual((await repository.get('a'))?.tags, ['two']);
    const copy = await repository.get('a');
    (copy?.tags as string[] | undefined)?.push('changed by the caller');
    assert.deepEqual((await repository.get('a'))?.tags, ['two']);
    assert.equal(await repository.delete('a'), true);
    assert.equal(await repository.get('a'), undefined);
  });

  it('does not cache a read that a write overtook', async () => {
    await using store = createStore({ url: 'memory://' });
    await store.start();
    const repository = createStoreInstallationRepository(store, { cachedInstallations: 10 });
    await repository.put(sampleInstallation('a', { tags: ['old'] }));
    const racing = repository.get('x-not-cached-yet').then(() => repository.get('a'));
    const reading = repository.get('a');
    const writing = repository.put(sampleInstallation('a', { tags: ['new'] }));
    await Promise.all([reading, writing, racing]);
    assert.deepEqual((await repository.get('a'))?.tags, ['new']);
  });
});
