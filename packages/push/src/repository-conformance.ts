/**
 * The conformance suite every {@link InstallationRepository} runs. Run it from a five-line file:
 *
 * ```ts
 * import { describeInstallationRepository } from '@hubbub/push/conformance';
 * import { createMemoryInstallationRepository } from '@hubbub/push';
 * describeInstallationRepository({ name: 'memory', create: () => createMemoryInstallationRepository() });
 * ```
 * @module
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Installation } from './model.ts';
import type { InstallationQuery, InstallationRepository } from './repository.ts';

export interface InstallationRepositorySuiteOptions {
  name: string;
  /** A fresh, empty repository per test. */
  create: () => InstallationRepository | Promise<InstallationRepository>;
  /** When set, every case is skipped with this reason (the repository's server is not reachable). */
  unavailable?: string;
  /** Runs once after the suite, e.g. to drop what it wrote. */
  cleanup?: () => Promise<void>;
}

export function sampleInstallation(id: string, overrides: Partial<Installation> = {}): Installation {
  return {
    installationId: id,
    platform: 'fcmv1',
    pushChannel: `token-${id}`,
    tags: [],
    templates: {},
    lastUpdate: '2026-12-04T10:00:00.000Z',
    pushChannelExpired: false,
    ...overrides,
  };
}

async function ids(repo: InstallationRepository, query?: InstallationQuery): Promise<string[]> {
  const out: string[] = [];
  for await (const i of repo.find(query)) out.push(i.installationId);
  return out;
}

export function describeInstallationRepository(options: InstallationRepositorySuiteOptions): void {
  const { name, create, unavailable, cleanup } = options;
  const test = (title: string, body: (repo: InstallationRepository) => Promise<void>): void => {
    const run = async () => {
      const repo = await create();
      try {
        await body(repo);
      } finally {
        await repo.close();
      }
    };
    if (unavailable !== undefined) it(title, { skip: unavailable }, run);
    else it(title, run);
  };

  describe(`InstallationRepository conformance: ${name}`, () => {
    if (cleanup !== undefined && unavailable === undefined) after(cleanup);

    test('an unknown id reads as undefined and deletes as false', async (repo) => {
      assert.equal(await repo.get('nobody'), undefined);
      assert.equal(await repo.delete('nobody'), false);
    });

    test('many reads at once each answer their own installation, or undefined', async (repo) => {
      const ids = Array.from({ length: 30 }, (_, n) => `many-${n}`);
      for (const id of ids.filter((_, n) => n % 3 !== 0)) await repo.put(sampleInstallation(id));
      const read = await Promise.all([...ids, ...ids].map((id) => repo.get(id)));
      assert.deepEqual(
        read.map((i) => i?.installationId),
        [...ids, ...ids].map((id, n) => ((n % 30) % 3 === 0 ? undefined : id)),
      );
      // Each answer is its own object.
      (read[1] as unknown as { tags: string[] }).tags.push('changed');
      assert.deepEqual(read[31]?.tags, sampleInstallation('many-1').tags);
      assert.deepEqual((await repo.get('many-1'))?.tags, sampleInstallation('many-1').tags);
    });

    test('round-trips every field', async (repo) => {
      const full = sampleInstallation('i-1', {
        platform: 'browser',
        pushChannel: { endpoint: 'https://push.example/abc', p256dh: 'BPk', auth: 'au' },
        tags: ['city_Boston', 'vip'],
        templates: {
          hello: { body: '{"title":"$(title)"}', headers: { TTL: '60' }, tags: ['lang_en'] },
          plain: { body: '{"n":1}' },
        },
        userId: 'alice',
        expirationTime: '2027-01-01T00:00:00.000Z',
        lastUpdate: '2026-12-04T11:00:00.000Z',
        pushChannelExpired: true,
      });
      await repo.put(full);
      assert.deepEqual(await repo.get('i-1'), full);
    });

    test('put replaces the installation and its index entries', async (repo) => {
      await repo.put(sampleInstallation('i-1', { tags: ['old'], userId: 'u1' }));
      await repo.put(sampleInstallation('i-1', { tags: ['new'] }));
      assert.deepEqual((await repo.get('i-1'))?.tags, ['new']);
      assert.deepEqual(await ids(repo, { tags: ['old'] }), []);
      assert.deepEqual(await ids(repo, { tags: ['$UserId:{u1}'] }), []);
      assert.deepEqual(await ids(repo, { tags: ['new'] }), ['i-1']);
    });

    test('delete removes the installation from reads and from the index', async (repo) => {
      await repo.put(sampleInstallation('i-1', { tags: ['a'] }));
      assert.equal(await repo.delete('i-1'), true);
      assert.equal(await repo.get('i-1'), undefined);
      assert.deepEqual(await ids(repo, { tags: ['a'] }), []);
      assert.deepEqual(await ids(repo), []);
    });

    test('find without tags lists every installation in code-unit id order', async (repo) => {
      for (const id of ['b', 'a', 'B', 'a-2', 'ä']) await repo.put(sampleInstallation(id));
      assert.deepEqual(await ids(repo), ['B', 'a', 'a-2', 'b', 'ä']);
    });

    test('find by tags is the union of own tags, template tags and the special tags, once each', async (repo) => {
      await repo.put(sampleInstallation('i-1', { tags: ['x', 'y'] }));
      await repo.put(sampleInstallation('i-2', { tags: ['y'], userId: 'bob' }));
      await repo.put(sampleInstallation('i-3', { templates: { t: { body: '{}', tags: ['x'] } } }));
      await repo.put(sampleInstallation('i-4', { tags: ['z'] }));
      assert.deepEqual(await ids(repo, { tags: ['x', 'y'] }), ['i-1', 'i-2', 'i-3']);
      assert.deepEqual(await ids(repo, { tags: ['$UserId:{bob}'] }), ['i-2']);
      assert.deepEqual(await ids(repo, { tags: ['$InstallationId:{i-4}', 'nope'] }), ['i-4']);
      assert.deepEqual(await ids(repo, { tags: [] }), []);
    });

    test('find filters by platform and pages with after', async (repo) => {
      for (let n = 0; n < 6; n++) {
        await repo.put(sampleInstallation(`i-${n}`, n % 2 === 0 ? { tags: ['t'] } : { platform: 'apns', tags: ['t'] }));
      }
      assert.deepEqual(await ids(repo, { platform: 'apns' }), ['i-1', 'i-3', 'i-5']);
      assert.deepEqual(await ids(repo, { tags: ['t'], platform: 'fcmv1', after: 'i-0' }), ['i-2', 'i-4']);
      assert.deepEqual(await ids(repo, { after: 'i-3' }), ['i-4', 'i-5']);
    });

    test('a stored installation is not changed by changing the object given to put, or the one get returned', async (repo) => {
      const tags = ['a'];
      const installation = sampleInstallation('i-1', { tags });
      await repo.put(installation);
      tags.push('b');
      assert.deepEqual((await repo.get('i-1'))?.tags, ['a']);
      const read = (await repo.get('i-1')) as unknown as { tags: string[] };
      read.tags.push('c');
      assert.deepEqual((await repo.get('i-1'))?.tags, ['a'], 'nor by changing what get returned');
    });
  });
}
