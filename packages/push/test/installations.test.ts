import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import { createMemoryPushQueue } from '../src/memory/queue.ts';
import type { InstallationInput } from '../src/model.ts';
import type { PushQueue } from '../src/queue.ts';
import { createPushService, type PushService } from '../src/service.ts';
import { apnsToken, RecordingProvider } from './recording-provider.ts';

const browserChannel = { endpoint: 'https://push.example/sub/1', p256dh: 'BKey', auth: 'authsecret' };

async function rejectsWith(work: Promise<unknown>, code: string, detail?: Record<string, unknown>): Promise<void> {
  await assert.rejects(work, (err: { code?: string; detail?: Record<string, unknown> }) => {
    assert.equal(err.code, code);
    for (const [k, v] of Object.entries(detail ?? {})) assert.deepEqual(err.detail?.[k], v, k);
    return true;
  });
}

describe('installations', () => {
  let clock: ManualClock;
  let push: PushService;

  beforeEach(async () => {
    clock = new ManualClock(Date.parse('2026-12-04T12:00:00Z'));
    push = createPushService({
      providers: [new RecordingProvider('browser'), new RecordingProvider('fcmv1'), new RecordingProvider('apns')],
      clock,
    });
    await push.start();
  });
  afterEach(() => push.close());

  const fcm = (id: string, extra: Partial<InstallationInput> = {}): InstallationInput => ({
    installationId: id,
    platform: 'fcmv1',
    pushChannel: `fcm-token-${id}`,
    ...extra,
  });

  it('creates, reads back, replaces and deletes', async () => {
    const created = await push.upsertInstallation({
      installationId: 'dev-1',
      platform: 'browser',
      pushChannel: browserChannel,
      tags: ['city_Boston', 'vip', 'vip'],
      templates: { hello: { body: '{"title":"$(title)"}', headers: { TTL: '60' }, tags: ['lang_en'] } },
      userId: 'alice',
    });
    assert.deepEqual(created, {
      installationId: 'dev-1',
      platform: 'browser',
      pushChannel: browserChannel,
      tags: ['city_Boston', 'vip'],
      templates: { hello: { body: '{"title":"$(title)"}', headers: { TTL: '60' }, tags: ['lang_en'] } },
      userId: 'alice',
      lastUpdate: '2026-12-04T12:00:00.000Z',
      pushChannelExpired: false,
    });
    assert.deepEqual(await push.getInstallation('dev-1'), created);
    clock.advance(1_000);
    const replaced = await push.upsertInstallation(fcm('dev-1'));
    assert.equal(replaced.platform, 'fcmv1');
    assert.deepEqual(replaced.tags, []);
    assert.equal(replaced.lastUpdate, '2026-12-04T12:00:01.000Z');
    assert.equal(await push.deleteInstallation('dev-1'), true);
    assert.equal(await push.deleteInstallation('dev-1'), false);
    assert.equal(await push.getInstallation('dev-1'), undefined);
  });

  it('refuses an unknown platform with PUSH_UNKNOWN_PLATFORM', async () => {
    for (const platform of ['wns', 'gcm', 'apple', '', 42]) {
      await rejectsWith(push.upsertInstallation(fcm('x', { platform: platform as string })), 'PUSH_UNKNOWN_PLATFORM');
    }
  });

  it('refuses a platform without a provider with PUSH_PLATFORM_NOT_CONFIGURED', async () => {
    const only = createPushService({ providers: [new RecordingProvider('fcmv1')] });
    await only.start();
    try {
      await rejectsWith(
        only.upsertInstallation({ installationId: 'a', platform: 'apns', pushChannel: apnsToken(1) }),
        'PUSH_PLATFORM_NOT_CONFIGURED',
        { platform: 'apns' },
      );
    } finally {
      await only.close();
    }
  });

  it("refuses a malformed channel with the provider's PUSH_INVALID_CHANNEL", async () => {
    await rejectsWith(
      push.upsertInstallation({ installationId: 'a', platform: 'apns', pushChannel: 'not-hex' }),
      'PUSH_INVALID_CHANNEL',
    );
    await rejectsWith(
      push.upsertInstallation({ installationId: 'a', platform: 'browser', pushChannel: { endpoint: 'ftp://x' } }),
      'PUSH_INVALID_CHANNEL',
    );
    await rejectsWith(push.upsertInstallation(fcm('a', { pushChannel: 17 })), 'PUSH_INVALID_CHANNEL');
    assert.equal(await push.getInstallation('a'), undefined);
  });

  it('takes a browser channel given as JSON text', async () => {
    const i = await push.upsertInstallation({
      installationId: 'b',
      platform: 'browser',
      pushChannel: JSON.stringify(browserChannel),
    });
    assert.deepEqual(i.pushChannel, browserChannel);
  });

  it('refuses tags over the limits with PUSH_INVALID_TAG', async () => {
    await rejectsWith(push.upsertInstallation(fcm('a', { tags: ['t'.repeat(121)] })), 'PUSH_INVALID_TAG', {
      reason: 'length',
    });
    await rejectsWith(push.upsertInstallation(fcm('a', { tags: ['has space'] })), 'PUSH_INVALID_TAG', {
      reason: 'charset',
    });
    const many = Array.from({ length: 61 }, (_, i) => `t${i}`);
    await rejectsWith(push.upsertInstallation(fcm('a', { tags: many })), 'PUSH_INVALID_TAG', { reason: 'count' });
    await rejectsWith(
      push.upsertInstallation(fcm('a', { templates: { x: { body: '{}', tags: ['bad tag'] } } })),
      'PUSH_INVALID_TAG',
    );
  });

  it('refuses bad ids, user ids, expiration times and template shapes with PUSH_INVALID_INSTALLATION', async () => {
    await rejectsWith(push.upsertInstallation(fcm('')), 'PUSH_INVALID_INSTALLATION', { field: 'installationId' });
    await rejectsWith(push.upsertInstallation(fcm('a'.repeat(257))), 'PUSH_INVALID_INSTALLATION');
    await rejectsWith(push.upsertInstallation(fcm('a\nb')), 'PUSH_INVALID_INSTALLATION');
    await rejectsWith(push.upsertInstallation(fcm('a', { userId: '{x}' })), 'PUSH_INVALID_INSTALLATION', {
      field: 'userId',
    });
    await rejectsWith(push.upsertInstallation(fcm('a', { expirationTime: 'soon' })), 'PUSH_INVALID_INSTALLATION', {
      field: 'expirationTime',
    });
    await rejectsWith(push.upsertInstallation(null as unknown as InstallationInput), 'PUSH_INVALID_INSTALLATION');
    await rejectsWith(push.upsertInstallation(fcm('a', { templates: [] as never })), 'PUSH_INVALID_INSTALLATION');
  });

  it('checks templates at registration: PUSH_TEMPLATE_INVALID_BODY and PUSH_TEMPLATE_SYNTAX', async () => {
    await rejectsWith(
      push.upsertInstallation(fcm('a', { templates: { t: { body: 'not json' } } })),
      'PUSH_TEMPLATE_INVALID_BODY',
      { template: 't' },
    );
    await rejectsWith(
      push.upsertInstallation(fcm('a', { templates: { t: { body: '{"m":"$(oops"}' } } })),
      'PUSH_TEMPLATE_SYNTAX',
      { template: 't', position: 0 },
    );
    await rejectsWith(
      push.upsertInstallation(fcm('a', { templates: { t: { body: '{}', headers: { h: '{1 +}' } } } })),
      'PUSH_TEMPLATE_SYNTAX',
    );
  });

  describe('JSON Patch as the SDK sends it', () => {
    beforeEach(() => push.upsertInstallation(fcm('p', { tags: ['a', 'city_Boston'] })).then(() => {}));

    it('adds, removes and replaces tags', async () => {
      let i = await push.patchInstallation('p', [{ op: 'add', path: '/tags', value: 'vip' }]);
      assert.deepEqual(i.tags, ['a', 'city_Boston', 'vip']);
      i = await push.patchInstallation('p', [{ op: 'remove', path: '/tags/city_Boston' }]);
      assert.deepEqual(i.tags, ['a', 'vip']);
      i = await push.patchInstallation('p', [{ op: 'add', path: '/tags', value: ['x', 'y'] }]);
      assert.deepEqual(i.tags, ['a', 'vip', 'x', 'y']);
      i = await push.patchInstallation('p', [{ op: 'replace', path: '/tags', value: 'only,two' }]);
      assert.deepEqual(i.tags, ['only', 'two']);
      i = await push.patchInstallation('p', [{ op: 'add', path: '/tags/three' }]);
      assert.deepEqual(i.tags, ['only', 'two', 'three']);
      i = await push.patchInstallation('p', [{ op: 'remove', path: '/tags' }]);
      assert.deepEqual(i.tags, []);
      assert.deepEqual((await push.getInstallation('p'))?.tags, []);
    });

    it('sets templates from JSON text or objects, their tags, and removes them', async () => {
      let i = await push.patchInstallation('p', [
        { op: 'add', path: '/templates/promo', value: JSON.stringify({ body: '{"m":"$(m)"}', headers: {} }) },
        { op: 'add', path: '/templates/other', value: { body: '{"n":"#(n)"}' } },
      ]);
      assert.deepEqual(Object.keys(i.templates), ['promo', 'other']);
      i = await push.patchInstallation('p', [{ op: 'add', path: '/templates/promo/tags', value: 'lang_en' }]);
      assert.deepEqual(i.templates.promo?.tags, ['lang_en']);
      i = await push.patchInstallation('p', [{ op: 'replace', path: '/templates/promo/tags', value: ['lang_de'] }]);
      assert.deepEqual(i.templates.promo?.tags, ['lang_de']);
      i = await push.patchInstallation('p', [{ op: 'remove', path: '/templates/other' }]);
      assert.deepEqual(Object.keys(i.templates), ['promo']);
      await rejectsWith(
        push.patchInstallation('p', [{ op: 'add', path: '/templates/bad', value: '{"body":"x"}' }]),
        'PUSH_TEMPLATE_INVALID_BODY',
      );
      await rejectsWith(
        push.patchInstallation('p', [{ op: 'add', path: '/templates/bad', value: '{not json' }]),
        'PUSH_TEMPLATE_INVALID_BODY',
      );
    });

    it('sets and removes the user id, which becomes the $UserId tag', async () => {
      await push.patchInstallation('p', [{ op: 'replace', path: '/userId', value: 'bob' }]);
      assert.equal((await push.getInstallation('p'))?.userId, 'bob');
      const page = await push.listInstallations({ tag: '$UserId:{bob}' });
      assert.deepEqual(
        page.installations.map((i) => i.installationId),
        ['p'],
      );
      await push.patchInstallation('p', [{ op: 'remove', path: '/userId' }]);
      assert.equal((await push.getInstallation('p'))?.userId, undefined);
      assert.deepEqual((await push.listInstallations({ tag: '$UserId:{bob}' })).installations, []);
    });

    it('replaces the push channel, checked by the provider', async () => {
      const i = await push.patchInstallation('p', [{ op: 'replace', path: '/pushChannel', value: 'new-token' }]);
      assert.equal(i.pushChannel, 'new-token');
      await rejectsWith(
        push.patchInstallation('p', [{ op: 'replace', path: '/pushChannel', value: '' }]),
        'PUSH_INVALID_CHANNEL',
      );
    });

    it('applies all operations or none', async () => {
      await rejectsWith(
        push.patchInstallation('p', [
          { op: 'add', path: '/tags', value: 'kept-out' },
          { op: 'add', path: '/tags', value: 'bad tag' },
        ]),
        'PUSH_INVALID_TAG',
      );
      assert.deepEqual((await push.getInstallation('p'))?.tags, ['a', 'city_Boston']);
    });

    it('refuses malformed operations with PUSH_INVALID_PATCH naming the operation', async () => {
      const bad: Array<[unknown, number]> = [
        [[{ op: 'move', path: '/tags' }], 0],
        [[{ op: 'add', path: 'tags', value: 'x' }], 0],
        [
          [
            { op: 'add', path: '/tags', value: 'ok' },
            { op: 'add', path: '/platform', value: 'apns' },
          ],
          1,
        ],
        [[{ op: 'add', path: '/tags' }], 0],
        [[{ op: 'remove', path: '/pushChannel' }], 0],
        [[{ op: 'add', path: '/templates/none/tags', value: 'x' }], 0],
        [[{ op: 'add', path: '/tags/a/b/c', value: 'x' }], 0],
        [[null], 0],
        [{ op: 'add' }, 0],
      ];
      for (const [ops, index] of bad) {
        await rejectsWith(push.patchInstallation('p', ops as never), 'PUSH_INVALID_PATCH', { index });
      }
    });

    it('answers PUSH_INSTALLATION_NOT_FOUND for an unknown id', async () => {
      await rejectsWith(
        push.patchInstallation('nobody', [{ op: 'add', path: '/tags', value: 'x' }]),
        'PUSH_INSTALLATION_NOT_FOUND',
      );
    });
  });

  it('an installation past its expiration time is gone', async () => {
    await push.upsertInstallation(fcm('e', { expirationTime: '2026-12-04T12:00:10Z' }));
    assert.equal((await push.getInstallation('e'))?.expirationTime, '2026-12-04T12:00:10.000Z');
    clock.advance(10_000);
    assert.deepEqual((await push.listInstallations()).installations, []);
    assert.equal(await push.getInstallation('e'), undefined);
    assert.equal(await push.deleteInstallation('e'), false, 'reading it expired deleted it');
  });

  it('gives installations a lifetime with installationTtlMs', async () => {
    const ttl = createPushService({ providers: [new RecordingProvider('fcmv1')], clock, installationTtlMs: 60_000 });
    await ttl.start();
    try {
      const i = await ttl.upsertInstallation(fcm('t'));
      assert.equal(i.expirationTime, '2026-12-04T12:01:00.000Z');
    } finally {
      await ttl.close();
    }
  });

  it('lists installations a page at a time, by tag and platform', async () => {
    for (let n = 0; n < 5; n++) await push.upsertInstallation(fcm(`i${n}`, { tags: n % 2 === 0 ? ['even'] : [] }));
    await push.upsertInstallation({ installationId: 'z', platform: 'apns', pushChannel: apnsToken(9), tags: ['even'] });
    const first = await push.listInstallations({ limit: 2 });
    assert.deepEqual(
      first.installations.map((i) => i.installationId),
      ['i0', 'i1'],
    );
    assert.equal(first.next, 'i1');
    const second = await push.listInstallations({ limit: 10, after: first.next });
    assert.deepEqual(
      second.installations.map((i) => i.installationId),
      ['i2', 'i3', 'i4', 'z'],
    );
    assert.equal(second.next, undefined);
    const even = await push.listInstallations({ tag: 'even', platform: 'fcmv1' });
    assert.deepEqual(
      even.installations.map((i) => i.installationId),
      ['i0', 'i2', 'i4'],
    );
    await rejectsWith(push.listInstallations({ limit: 0 }), 'PUSH_INVALID_INSTALLATION');
    await rejectsWith(push.listInstallations({ tag: 'bad tag' }), 'PUSH_INVALID_TAG');
  });

  it('starts once however often start is called, and not at all when closed while starting', async () => {
    let opens = 0;
    const queue = createMemoryPushQueue();
    const counting: PushQueue = {
      kind: 'counting',
      open: async () => {
        opens++;
        await new Promise((resolve) => setImmediate(resolve));
      },
      enqueue: (body, options) => queue.enqueue(body, options),
      cancel: (id) => queue.cancel(id),
      receive: (signal) => queue.receive(signal),
      close: async () => {},
    };
    const twice = createPushService({ providers: [], queue: counting });
    await Promise.all([twice.start(), twice.start()]);
    await twice.start();
    assert.equal(opens, 1);
    await twice.close();

    const raced = createPushService({ providers: [], queue: counting });
    const starting = raced.start();
    await raced.close();
    await rejectsWith(starting, 'PUSH_CLOSED');
    await rejectsWith(raced.getInstallation('a'), 'PUSH_CLOSED');
  });

  it('refuses calls before start and after close with PUSH_CLOSED', async () => {
    const idle = createPushService({ providers: [] });
    await rejectsWith(idle.getInstallation('a'), 'PUSH_CLOSED');
    await idle.close();
    await rejectsWith(idle.start(), 'PUSH_CLOSED');
    await push.close();
    await rejectsWith(push.upsertInstallation(fcm('a')), 'PUSH_CLOSED');
  });

  it('validates its options with KERNEL_INVALID_OPTION', () => {
    const p = new RecordingProvider('fcmv1');
    assert.throws(() => createPushService({ providers: [p, p] }), { code: 'KERNEL_INVALID_OPTION' });
    assert.throws(() => createPushService({ providers: [], expiryMs: 0 }), { code: 'KERNEL_INVALID_OPTION' });
    assert.throws(() => createPushService({ providers: [], batchSize: 1.5 }), { code: 'KERNEL_INVALID_OPTION' });
    assert.throws(() => createPushService({} as never), { code: 'KERNEL_INVALID_OPTION' });
  });
});
