import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ManualClock, sequentialIds, waitFor } from '@hubbub/kernel';
import { createMemoryInstallationRepository, type MemoryInstallationRepository } from '../src/memory/repository.ts';
import type { NotificationOutcome } from '../src/model.ts';
import type { InstallationQuery } from '../src/repository.ts';
import { sampleInstallation } from '../src/repository-conformance.ts';
import {
  type ChannelRemovedEvent,
  createPushService,
  type DeliveryFailedEvent,
  type PushService,
  type PushServiceOptions,
} from '../src/service.ts';
import { RecordingProvider } from './recording-provider.ts';

const browser = (n: number) => ({ endpoint: `https://push.example/sub/${n}`, p256dh: 'BKey', auth: 'secret' });

async function rejectsWith(work: Promise<unknown>, code: string): Promise<Record<string, unknown> | undefined> {
  let detail: Record<string, unknown> | undefined;
  await assert.rejects(work, (err: { code?: string; detail?: Record<string, unknown> }) => {
    assert.equal(err.code, code);
    detail = err.detail;
    return true;
  });
  return detail;
}

describe('sends', () => {
  let clock: ManualClock;
  let fcm: RecordingProvider;
  let web: RecordingProvider;
  let push: PushService;
  let failed: DeliveryFailedEvent[];
  let removed: ChannelRemovedEvent[];
  let errors: Error[];
  let repository: MemoryInstallationRepository;
  let retries: Array<{ attempt: number; delayMs: number }>;

  const open = async (options: Partial<PushServiceOptions> = {}) => {
    await push?.close();
    push = createPushService({
      providers: [fcm, web],
      repository,
      clock,
      ids: sequentialIds('n'),
      backoff: { initialMs: 1_000, maxMs: 60_000, random: () => 1 },
      ...options,
    });
    push.on('delivery:failed', (e) => failed.push(e));
    push.on('channel:removed', (e) => removed.push(e));
    push.on('error', (e) => errors.push(e));
    push.on('delivery:retry', (e) => retries.push(e));
    await push.start();
  };

  /** Waits until the notification is final (Completed, NoTargetFound …). */
  const settled = (id: string): Promise<NotificationOutcome> =>
    waitFor(
      async () => {
        const o = await push.getNotificationOutcome(id);
        return o !== undefined && o.state !== 'Enqueued' && o.state !== 'Processing' ? o : undefined;
      },
      { what: `notification ${id} to finish` },
    );

  beforeEach(async () => {
    clock = new ManualClock(Date.parse('2026-12-04T12:00:00Z'));
    fcm = new RecordingProvider('fcmv1');
    web = new RecordingProvider('browser');
    failed = [];
    removed = [];
    errors = [];
    retries = [];
    repository = createMemoryInstallationRepository();
    await open();
    await push.upsertInstallation({
      installationId: 'f1',
      platform: 'fcmv1',
      pushChannel: 'tok-1',
      tags: ['a', 'vip'],
    });
    await push.upsertInstallation({
      installationId: 'f2',
      platform: 'fcmv1',
      pushChannel: 'tok-2',
      tags: ['b'],
      userId: 'bob',
    });
    await push.upsertInstallation({ installationId: 'w1', platform: 'browser', pushChannel: browser(1), tags: ['a'] });
  });
  afterEach(async () => {
    await push.close();
    assert.deepEqual(errors, []);
  });

  it('broadcasts a native notification to every installation of its platform', async () => {
    const { notificationId } = await push.send({ format: 'fcmv1', body: '{"message":{}}' }, { kind: 'broadcast' });
    assert.equal(notificationId, 'n-1');
    const outcome = await settled(notificationId);
    assert.equal(outcome.state, 'Completed');
    assert.deepEqual(fcm.handles().sort(), ['tok-1', 'tok-2']);
    assert.equal(web.deliveries.length, 0);
    assert.equal(fcm.deliveries[0]?.body, '{"message":{}}');
    assert.deepEqual(outcome.counts, {
      fcmv1: { success: 2, gone: 0, invalid: 0, throttled: 0, expired: 0, failed: 0 },
    });
    assert.deepEqual(outcome.targetPlatforms, ['fcmv1']);
    assert.equal(outcome.target, 'broadcast');
    assert.equal(outcome.deliveries, 2);
    assert.equal(outcome.pending, 0);
  });

  it('sends to a tag expression, the special tags included', async () => {
    let id = (await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'tags', expression: 'a && !b' })).notificationId;
    await settled(id);
    assert.deepEqual(fcm.handles(), ['tok-1']);
    id = (await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'tags', expression: '$UserId:{bob} || nobody' }))
      .notificationId;
    await settled(id);
    assert.deepEqual(fcm.handles(), ['tok-1', 'tok-2']);
    id = (await push.send({ format: 'browser', body: 'hi' }, { kind: 'installation', installationId: 'w1' }))
      .notificationId;
    assert.equal((await settled(id)).target, '$InstallationId:{w1}');
    assert.deepEqual(web.handles(), ['https://push.example/sub/1']);
    id = (await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'tags', expression: 'nobody' })).notificationId;
    assert.equal((await settled(id)).state, 'NoTargetFound');
  });

  it('sends directly to one handle, with no installation', async () => {
    const { notificationId } = await push.send(
      { format: 'browser', body: 'direct', headers: { TTL: '30' } },
      { kind: 'handle', platform: 'browser', channel: browser(9) },
    );
    assert.equal((await settled(notificationId)).counts.browser?.success, 1);
    assert.deepEqual(web.deliveries[0]?.channel, browser(9));
    assert.deepEqual(web.deliveries[0]?.headers, { TTL: '30' });
    await rejectsWith(
      push.send(
        { format: 'browser', body: 'x' },
        { kind: 'handle', platform: 'browser', channel: { endpoint: 'x' } as never },
      ),
      'PUSH_INVALID_CHANNEL',
    );
    await rejectsWith(
      push.send({ format: 'fcmv1', body: 'x' }, { kind: 'handle', platform: 'browser', channel: browser(1) }),
      'PUSH_INVALID_NOTIFICATION',
    );
  });

  it('renders each installation template from the send properties, one push per matching template', async () => {
    await push.upsertInstallation({
      installationId: 't1',
      platform: 'fcmv1',
      pushChannel: 'tok-t1',
      tags: ['news'],
      templates: {
        en: {
          body: '{"message":{"notification":{"title":"{\'Hi \' + $(name)}","badge":"#(count)"}}}',
          tags: ['lang_en'],
        },
        short: { body: '{"m":".(text, 6)"}', headers: { 'x-id': '$(id)' } },
      },
    });
    const { notificationId } = await push.send(
      { format: 'template', properties: { Name: 'Ann', count: 3, text: 'long text here', id: 'x1' } },
      { kind: 'tags', expression: 'news' },
    );
    const outcome = await settled(notificationId);
    assert.equal(outcome.counts.fcmv1?.success, 2);
    const bodies = fcm.deliveries.map((d) => d.body).sort();
    assert.deepEqual(bodies, ['{"m":"lon..."}', '{"message":{"notification":{"title":"Hi Ann","badge":3}}}']);
    assert.deepEqual(fcm.deliveries.find((d) => d.body.startsWith('{"m"'))?.headers, { 'x-id': 'x1' });

    fcm.deliveries.length = 0;
    const onlyEn = await push.send(
      { format: 'template', properties: { name: 'Bo' } },
      { kind: 'tags', expression: 'lang_en' },
    );
    await settled(onlyEn.notificationId);
    assert.equal(fcm.deliveries.length, 1, 'only the template carrying the tag');
    assert.match(fcm.deliveries[0]!.body, /Hi Bo/);
  });

  it('counts a rendered template over the payload limit as invalid, and refuses an oversized native body', async () => {
    await open({ providers: [new RecordingProvider('fcmv1', 100), web] });
    await push.upsertInstallation({
      installationId: 'big',
      platform: 'fcmv1',
      pushChannel: 'tok-big',
      templates: { t: { body: '{"m":"$(text)"}' } },
    });
    const { notificationId } = await push.send(
      { format: 'template', properties: { text: 'x'.repeat(200) } },
      { kind: 'broadcast' },
    );
    const outcome = await settled(notificationId);
    assert.equal(outcome.counts.fcmv1?.invalid, 1);
    assert.equal(failed[0]?.outcome, 'invalid');
    assert.match(failed[0]?.reason ?? '', /over the platform's 100/);

    const detail = await rejectsWith(
      push.send({ format: 'fcmv1', body: 'y'.repeat(101) }, { kind: 'broadcast' }),
      'PUSH_PAYLOAD_TOO_LARGE',
    );
    assert.deepEqual([detail?.limit, detail?.size], [100, 101]);
  });

  it('retries a transient failure after the back-off, then counts success', async () => {
    fcm.script = (_d, n) => (n === 1 ? { kind: 'retry', status: 503, reason: 'unavailable' } : { kind: 'delivered' });
    const retries: unknown[] = [];
    push.on('delivery:retry', (e) => retries.push(e));
    const { notificationId } = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'f1' },
    );
    await waitFor(() => retries.length === 1, { what: 'a retry' });
    assert.deepEqual(retries[0], {
      notificationId,
      platform: 'fcmv1',
      count: 1,
      attempt: 2,
      delayMs: 1_000,
      reason: 'unavailable',
    });
    assert.equal((await push.getNotificationOutcome(notificationId))?.state, 'Processing');
    clock.advance(999);
    assert.equal(fcm.deliveries.length, 1);
    clock.advance(1);
    const outcome = await settled(notificationId);
    assert.equal(fcm.deliveries.length, 2);
    assert.equal(outcome.counts.fcmv1?.success, 1);
  });

  it("waits a throttled delivery's retryAfterMs, and counts the throttling", async () => {
    fcm.script = (_d, n) =>
      n === 1
        ? { kind: 'throttled', status: 429, reason: 'QUOTA_EXCEEDED', retryAfterMs: 5_000 }
        : { kind: 'delivered' };
    const { notificationId } = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'f1' },
    );
    await waitFor(async () => (await push.getNotificationOutcome(notificationId))?.counts.fcmv1?.throttled === 1);
    clock.advance(4_999);
    assert.equal(fcm.deliveries.length, 1);
    clock.advance(1);
    const outcome = await settled(notificationId);
    assert.deepEqual(outcome.counts.fcmv1, { success: 1, gone: 0, invalid: 0, throttled: 1, expired: 0, failed: 0 });
  });

  it('gives up when the next retry would pass the expiry, counting expired', async () => {
    await open({ expiryMs: 10_000 });
    fcm.script = () => ({ kind: 'retry', reason: 'still down' });
    const { notificationId } = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'f1' },
    );
    for (const [i, step] of [1_000, 2_000, 4_000].entries()) {
      await waitFor(() => retries.length === i + 1, { what: `retry ${i + 1}` });
      assert.equal(retries[i]?.delayMs, step);
      clock.advance(step);
    }
    const outcome = await settled(notificationId);
    assert.equal(fcm.deliveries.length, 4, 'tries at 0, 1 s, 3 s, 7 s; the next (15 s) would pass 10 s');
    assert.equal(retries.length, 3);
    assert.equal(outcome.counts.fcmv1?.expired, 1);
    assert.equal(failed.at(-1)?.outcome, 'expired');
  });

  it('counts a delivery job handed out after the expiry as expired, without calling the provider', async () => {
    await open({ expiryMs: 10_000 });
    fcm.script = () => ({ kind: 'retry', reason: 'slow' });
    const { notificationId } = await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'broadcast' });
    await waitFor(() => retries.length === 1);
    clock.advance(20_000);
    const outcome = await settled(notificationId);
    assert.equal(outcome.counts.fcmv1?.expired, 2);
    assert.equal(fcm.deliveries.length, 2, 'the late job reached no provider');
  });

  it('marks a gone channel expired on its installation and sends to it no more', async () => {
    fcm.script = (d) =>
      d.channel === 'tok-1' ? { kind: 'gone', status: 404, reason: 'UNREGISTERED' } : { kind: 'delivered' };
    const first = await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'broadcast' });
    const outcome = await settled(first.notificationId);
    assert.deepEqual([outcome.counts.fcmv1?.gone, outcome.counts.fcmv1?.success], [1, 1]);
    assert.deepEqual(removed, [{ installationId: 'f1', platform: 'fcmv1', reason: 'UNREGISTERED' }]);
    assert.equal((await push.getInstallation('f1'))?.pushChannelExpired, true);
    fcm.deliveries.length = 0;
    await settled((await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'broadcast' })).notificationId);
    assert.deepEqual(fcm.handles(), ['tok-2']);
    const renewed = await push.patchInstallation('f1', [{ op: 'replace', path: '/pushChannel', value: 'tok-1b' }]);
    assert.equal(renewed.pushChannelExpired, false);
    const tagged = await push.patchInstallation('f1', [{ op: 'add', path: '/tags', value: 'x' }]);
    assert.equal(tagged.pushChannelExpired, false);
  });

  it('counts invalid and auth outcomes, each with a delivery:failed event', async () => {
    fcm.script = (d) =>
      d.channel === 'tok-1'
        ? { kind: 'invalid', status: 400, reason: 'INVALID_ARGUMENT' }
        : { kind: 'auth', status: 401, reason: 'token refused' };
    const outcome = await settled(
      (await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'broadcast' })).notificationId,
    );
    assert.deepEqual([outcome.counts.fcmv1?.invalid, outcome.counts.fcmv1?.failed], [1, 1]);
    assert.deepEqual(failed.map((f) => [f.installationId, f.outcome, f.reason]).sort(), [
      ['f1', 'invalid', 'INVALID_ARGUMENT'],
      ['f2', 'failed', 'token refused'],
    ]);
  });

  it('a provider that throws or hangs is retried', async () => {
    await open({ deliveryTimeoutMs: 50 });
    let n = 0;
    fcm.script = (d) => {
      n++;
      if (n === 1) throw new Error('boom');
      if (n === 2) {
        return new Promise((resolve) =>
          d.signal?.addEventListener('abort', () => resolve({ kind: 'retry', reason: String(d.signal?.reason) })),
        );
      }
      return { kind: 'delivered' };
    };
    const { notificationId } = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'f1' },
    );
    await waitFor(() => retries.length === 1);
    assert.match(String((retries[0] as { reason?: string }).reason), /the provider failed: boom/);
    clock.advance(1_000);
    await waitFor(() => n === 2);
    clock.advance(50); // the delivery timeout fires
    await waitFor(() => retries.length === 2);
    assert.match(String((retries[1] as { reason?: string }).reason), /timed out after 50 ms/);
    clock.advance(2_000);
    const outcome = await settled(notificationId);
    assert.equal(outcome.counts.fcmv1?.success, 1);
    assert.equal(n, 3);
  });

  it('schedules a send, and cancels one not yet begun', async () => {
    const at = clock.now() + 60_000;
    const kept = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'f1' },
      { scheduledAt: new Date(at) },
    );
    const dropped = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'f2' },
      { scheduledAt: at },
    );
    assert.equal(kept.scheduledAt, at);
    assert.equal((await push.getNotificationOutcome(kept.notificationId))?.state, 'Enqueued');
    assert.equal(await push.cancelScheduled(dropped.notificationId), true);
    assert.equal(await push.cancelScheduled(dropped.notificationId), false);
    assert.equal(await push.cancelScheduled('unknown'), false);
    assert.equal((await push.getNotificationOutcome(dropped.notificationId))?.state, 'Cancelled');
    clock.advance(59_999);
    await new Promise((r) => setImmediate(r));
    assert.equal(fcm.deliveries.length, 0);
    clock.advance(1);
    await settled(kept.notificationId);
    assert.deepEqual(fcm.handles(), ['tok-1']);
    assert.equal(await push.cancelScheduled(kept.notificationId), false, 'already sent');

    await rejectsWith(
      push.send(
        { format: 'fcmv1', body: '{}' },
        { kind: 'broadcast' },
        { scheduledAt: clock.now() + 8 * 24 * 3_600_000 },
      ),
      'PUSH_INVALID_SCHEDULE',
    );
    await rejectsWith(
      push.send({ format: 'fcmv1', body: '{}' }, { kind: 'broadcast' }, { scheduledAt: Number.NaN }),
      'PUSH_INVALID_SCHEDULE',
    );
  });

  it('sends once for a repeated idempotency key', async () => {
    const a = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'f1' },
      { idempotencyKey: 'req-1' },
    );
    const b = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'f1' },
      { idempotencyKey: 'req-1' },
    );
    assert.equal(a.notificationId, b.notificationId);
    await settled(a.notificationId);
    clock.advance(11 * 60_000);
    const c = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'f1' },
      { idempotencyKey: 'req-1' },
    );
    assert.notEqual(c.notificationId, a.notificationId, 'the window has passed');
    await settled(c.notificationId);
    assert.equal(fcm.deliveries.length, 2);
  });

  it('test send delivers at once to at most 10 targets and reports each outcome', async () => {
    for (let n = 0; n < 12; n++)
      await push.upsertInstallation({
        installationId: `m${n}`,
        platform: 'fcmv1',
        pushChannel: `m-${n}`,
        tags: ['many'],
      });
    fcm.script = (d) =>
      d.channel === 'm-0' ? { kind: 'gone', status: 404, reason: 'UNREGISTERED' } : { kind: 'delivered', status: 200 };
    const result = await push.testSend({ format: 'fcmv1', body: '{}' }, { kind: 'tags', expression: 'many' });
    assert.equal(result.results.length, 10);
    assert.deepEqual([result.success, result.failure], [9, 1]);
    assert.deepEqual(
      result.results.find((r) => r.outcome === 'gone'),
      {
        platform: 'fcmv1',
        handle: 'm-0',
        installationId: 'm0',
        outcome: 'gone',
        reason: 'UNREGISTERED',
      },
    );
  });

  it('refuses bad sends before queueing anything', async () => {
    await rejectsWith(
      push.send({ format: 'fcmv1', body: '{}' }, { kind: 'tags', expression: 'a &&' }),
      'PUSH_TAG_EXPRESSION_INVALID',
    );
    const tags = Array.from({ length: 7 }, (_, i) => `t${i}`).join(' && ');
    await rejectsWith(
      push.send({ format: 'fcmv1', body: '{}' }, { kind: 'tags', expression: tags }),
      'PUSH_TAG_EXPRESSION_TOO_COMPLEX',
    );
    await rejectsWith(
      push.send({ format: 'wns' as never, body: '{}' }, { kind: 'broadcast' }),
      'PUSH_UNKNOWN_PLATFORM',
    );
    await rejectsWith(push.send({ format: 'apns', body: '{}' }, { kind: 'broadcast' }), 'PUSH_PLATFORM_NOT_CONFIGURED');
    await rejectsWith(
      push.send({ format: 'fcmv1', body: 3 as never }, { kind: 'broadcast' }),
      'PUSH_INVALID_NOTIFICATION',
    );
    await rejectsWith(
      push.send({ format: 'template', properties: { a: {} as never } }, { kind: 'broadcast' }),
      'PUSH_INVALID_NOTIFICATION',
    );
    await rejectsWith(
      push.send({ format: 'template', properties: {} }, { kind: 'handle', platform: 'fcmv1', channel: 'x' }),
      'PUSH_INVALID_NOTIFICATION',
    );
    await rejectsWith(
      push.send({ format: 'fcmv1', body: '{}' }, { kind: 'everyone' } as never),
      'PUSH_INVALID_NOTIFICATION',
    );
    await rejectsWith(
      push.send({ format: 'fcmv1', body: '{}', headers: { a: 1 } as never }, { kind: 'broadcast' }),
      'PUSH_INVALID_NOTIFICATION',
    );
    assert.equal(await push.getNotificationOutcome('n-1'), undefined, 'no id was handed out');
  });

  it('a job that fails (the repository is down) is reported, abandoned after a back-off and handed out again', async () => {
    const find = repository.find.bind(repository);
    let failing = true;
    repository.find = (query) => {
      if (failing) throw new Error('repository unavailable');
      return find(query);
    };
    const { notificationId } = await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'broadcast' });
    await waitFor(() => errors.length === 1, { what: 'the error event' });
    assert.equal(errors[0]?.message, 'repository unavailable');
    failing = false;
    clock.advance(1_000);
    const outcome = await settled(notificationId);
    assert.equal(outcome.counts.fcmv1?.success, 2);
    errors.length = 0;
  });

  it('gives a fan-out up after 10 failed tries: the notification ends Abandoned', async () => {
    repository.find = () => {
      throw new Error('repository gone for good');
    };
    const { notificationId } = await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'broadcast' });
    for (let i = 1; i < 10; i++) {
      await waitFor(() => errors.length === i, { what: `failure ${i}` });
      clock.advance(60_000);
    }
    const outcome = await waitFor(async () => {
      const o = await push.getNotificationOutcome(notificationId);
      return o?.state === 'Abandoned' ? o : undefined;
    });
    assert.equal(outcome.endTime, clock.now());
    assert.match(errors.at(-1)?.message ?? '', /dropped after 10 tries/);
    assert.equal(fcm.deliveries.length, 0);
    errors.length = 0;
  });

  it('a fan-out that fails midway and runs again queues no batch twice, and counts each delivery once', async () => {
    await open({ batchSize: 2 });
    for (let n = 0; n < 5; n++) {
      await push.upsertInstallation({
        installationId: `b${n}`,
        platform: 'fcmv1',
        pushChannel: `b-${n}`,
        tags: ['batch'],
      });
    }
    const find = repository.find.bind(repository);
    let runs = 0;
    repository.find = (query) => {
      const run = ++runs;
      return (async function* () {
        let n = 0;
        for await (const i of find(query)) {
          if (run === 1 && ++n === 5) throw new Error('lost the database mid fan-out');
          yield i;
        }
      })();
    };
    const { notificationId } = await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'tags', expression: 'batch' });
    await waitFor(() => errors.length === 1 && fcm.deliveries.length === 4, {
      what: 'two batches delivered, then the failure',
    });
    clock.advance(1_000); // the failed fan-out is abandoned after its back-off and runs again
    const outcome = await settled(notificationId);
    assert.equal(runs, 2);
    assert.deepEqual(fcm.handles().sort(), ['b-0', 'b-1', 'b-2', 'b-3', 'b-4']);
    assert.deepEqual([outcome.deliveries, outcome.counts.fcmv1?.success], [5, 5]);
    errors.length = 0;
  });

  it('reports each send as enqueued, then completed with its outcome', async () => {
    const enqueued: unknown[] = [];
    const completed: NotificationOutcome[] = [];
    push.on('notification:enqueued', (e) => enqueued.push(e));
    push.on('notification:completed', (o) => completed.push(o));
    const at = clock.now() + 1_000;
    const scheduled = await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'broadcast' }, { scheduledAt: at });
    const now = await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'tags', expression: 'nobody' });
    assert.deepEqual(enqueued, [
      { notificationId: scheduled.notificationId, scheduledAt: at },
      { notificationId: now.notificationId },
    ]);
    await waitFor(() => completed.length === 1);
    assert.deepEqual([completed[0]?.notificationId, completed[0]?.state], [now.notificationId, 'NoTargetFound']);
    clock.advance(1_000);
    await waitFor(() => completed.length === 2);
    const outcome = completed[1]!;
    assert.equal(outcome.state, 'Completed');
    assert.equal(outcome.scheduledAt, at);
    assert.equal(outcome.startTime, at);
    assert.equal(outcome.endTime, at);
    assert.deepEqual(outcome, await push.getNotificationOutcome(scheduled.notificationId));
  });

  it('keeps a finished outcome readable for outcomeRetentionMs', async () => {
    await open({ outcomeRetentionMs: 60_000 });
    const { notificationId } = await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'broadcast' });
    await settled(notificationId);
    clock.advance(60_000);
    assert.equal((await push.getNotificationOutcome(notificationId))?.state, 'Completed');
    clock.advance(1);
    assert.equal(await push.getNotificationOutcome(notificationId), undefined);
  });

  it('is an async disposable: leaving the scope closes it', async () => {
    const provider = new RecordingProvider('fcmv1');
    {
      await using scoped = createPushService({ providers: [provider] });
      await scoped.start();
    }
    assert.equal(provider.closed, true);
  });

  it('closes its providers with it', async () => {
    await push.close();
    assert.equal(fcm.closed, true);
    assert.equal(web.closed, true);
  });
});

/** A memory repository that counts what fan-outs read from it. */
class CountingRepository {
  readonly inner: MemoryInstallationRepository = createMemoryInstallationRepository();
  readonly kind = 'counting';
  queries: Array<InstallationQuery | undefined> = [];
  read = 0;
  get = this.inner.get.bind(this.inner);
  put = this.inner.put.bind(this.inner);
  delete = this.inner.delete.bind(this.inner);
  close = this.inner.close.bind(this.inner);
  async *find(query?: InstallationQuery) {
    this.queries.push(query);
    for await (const i of this.inner.find(query)) {
      this.read++;
      yield i;
    }
  }
}

describe('fan-out', () => {
  it('reads only the installations a plain || of tags names, from the tag index, out of 100,000', async () => {
    const repository = new CountingRepository();
    let unnegated = 0;
    for (let n = 0; n < 100_000; n++) {
      const tags = n % 1000 === 0 ? ['sports'] : n % 1000 === 1 ? ['news'] : [`group_${n % 97}`];
      if (!['group_1', 'group_2', 'group_3'].includes(tags[0]!)) unnegated++;
      await repository.put(sampleInstallation(`i${String(n).padStart(6, '0')}`, { tags }));
    }
    const fcm = new RecordingProvider('fcmv1');
    const push = createPushService({ providers: [fcm], repository, batchSize: 50 });
    await push.start();
    try {
      const { notificationId } = await push.send(
        { format: 'fcmv1', body: '{}' },
        { kind: 'tags', expression: 'sports || news' },
      );
      const outcome = await waitFor(async () => {
        const o = await push.getNotificationOutcome(notificationId);
        return o?.state === 'Completed' ? o : undefined;
      });
      assert.equal(outcome.counts.fcmv1?.success, 200);
      assert.equal(fcm.deliveries.length, 200);
      assert.deepEqual(repository.queries, [{ tags: ['sports', 'news'], platform: 'fcmv1' }]);
      assert.equal(repository.read, 200, 'no installation outside the two tags was read');

      // With a top-level negation only a scan finds every match.
      repository.queries = [];
      repository.read = 0;
      const scan = await push.send(
        { format: 'fcmv1', body: '{}' },
        { kind: 'tags', expression: '!group_1 && !group_2 && !group_3' },
      );
      const scanned = await waitFor(async () => {
        const o = await push.getNotificationOutcome(scan.notificationId);
        return o?.state === 'Completed' ? o : undefined;
      });
      assert.deepEqual(repository.queries, [{ platform: 'fcmv1' }]);
      assert.equal(repository.read, 100_000);
      assert.equal(scanned.deliveries, unnegated);
      assert.equal(scanned.counts.fcmv1?.success, unnegated);
    } finally {
      await push.close();
    }
  });
});
