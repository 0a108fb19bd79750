import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sequentialIds, silentLogger, systemClock } from '@hubbub/kernel';
import type { InvocationData } from '../../bindings.ts';
import { portResolver } from '../../connections.ts';
import { isFunctionsError } from '../../errors.ts';
import { notificationHubBinding } from './bindings.ts';
import type { PushNotification, PushPort, PushSendOptions, PushTarget } from './port.ts';

const scope = { functionName: 'notify', binding: 'push' };
const settings = { NotificationHubConnection: 'Endpoint=sb://127.0.0.1/;SharedAccessKeyName=a;SharedAccessKey=b' };
const services = { settings, clock: systemClock, ids: sequentialIds(), logger: silentLogger };

/** The port's side of the boundary: what the binding asked the push service to send. */
function recordingPort() {
  const sends: { hub: string; notification: PushNotification; target: PushTarget; options: PushSendOptions }[] = [];
  const port: PushPort = {
    async send(hub, notification, target, options) {
      sends.push({ hub, notification, target, options });
      return { notificationId: `n-${sends.length}` };
    },
  };
  return { port, sends };
}

const base = { type: 'notificationHub', hubName: 'orders', connection: 'NotificationHubConnection' };
const data = (values: Record<string, unknown>): InvocationData => ({ invocationId: 'i-1', expressions: { values } });

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isFunctionsError(err) ? `${err.code}:${String(err.detail?.property ?? err.detail?.setting)}` : String(err);
  }
  return undefined;
};

describe('notificationHub binding validation', () => {
  const { port } = recordingPort();
  const binding = notificationHubBinding(services, portResolver(port, settings, 'push service'));
  const cases: [string, Record<string, unknown>, string | undefined][] = [
    ['a template output', base, undefined],
    ['a native browser output', { ...base, platform: 'browser' }, undefined],
    ['apple and fcm, as the SDK names them', { ...base, platform: 'Apple' }, undefined],
    [
      'no hub name and no AzureWebJobsNotificationHubName',
      { ...base, hubName: '' },
      'FUNCTIONS_INVALID_BINDING:hubName',
    ],
    ['an unset connection', { ...base, connection: 'Nope' }, 'FUNCTIONS_INVALID_SETTING:Nope'],
    ['a platform Hubbub has no provider for', { ...base, platform: 'wns' }, 'FUNCTIONS_UNSUPPORTED:platform'],
    ['an unknown platform', { ...base, platform: 'pager' }, 'FUNCTIONS_INVALID_BINDING:platform'],
  ];
  for (const [name, info, expected] of cases) {
    it(`${name} → ${expected ?? 'valid'}`, () =>
      assert.equal(
        codeOf(() => binding.validate!(info, scope)),
        expected,
      ));
  }
});

describe('notificationHub binding sends', () => {
  it('a template send to the tag expression, its binding expressions resolved, keyed by the message id', async () => {
    const { port, sends } = recordingPort();
    const binding = notificationHubBinding(services, portResolver(port, settings, 'push service'));
    const info = { ...base, tagExpression: '$UserId:{{{customerId}}} && !muted' };
    await binding.write!(
      info,
      scope,
      { title: 'Hi', count: 2, urgent: true, gone: null },
      data({ customerId: 'u-1', MessageId: 'm-7' }),
    );
    assert.deepEqual(sends, [
      {
        hub: 'orders',
        notification: { format: 'template', properties: { title: 'Hi', count: 2, urgent: true } },
        target: { kind: 'tags', expression: '$UserId:{u-1} && !muted' },
        options: { idempotencyKey: 'functions/notify/push/m-7' },
      },
    ]);
  });

  it('template properties as JSON text; native payloads as text or JSON; an array is one send each; no tags is a broadcast', async () => {
    const { port, sends } = recordingPort();
    const binding = notificationHubBinding(services, portResolver(port, settings, 'push service'));
    await binding.write!(base, scope, '{"message":"hello"}', data({}));
    await binding.write!(
      { ...base, platform: 'apns' },
      scope,
      [{ aps: { alert: 'a' } }, '{"aps":{}}'],
      data({ MessageId: 'm' }),
    );
    assert.deepEqual(
      sends.map((s) => [s.notification, s.target, s.options]),
      [
        [{ format: 'template', properties: { message: 'hello' } }, { kind: 'broadcast' }, {}],
        [
          { format: 'apns', body: '{"aps":{"alert":"a"}}' },
          { kind: 'broadcast' },
          { idempotencyKey: 'functions/notify/push/m/0' },
        ],
        [
          { format: 'apns', body: '{"aps":{}}' },
          { kind: 'broadcast' },
          { idempotencyKey: 'functions/notify/push/m/1' },
        ],
      ],
    );
  });

  it('an idempotencyKey property with binding expressions overrides the message id', async () => {
    const { port, sends } = recordingPort();
    const binding = notificationHubBinding(services, portResolver(port, settings, 'push service'));
    await binding.write!(
      { ...base, idempotencyKey: 'order/{orderId}/{status}' },
      scope,
      { a: '1' },
      data({ orderId: 'o-1', status: 'accepted', MessageId: 'm-1' }),
    );
    assert.equal(sends[0]?.options.idempotencyKey, 'order/o-1/accepted');
  });

  it('refuses a value that would change the tag expression, and bad values, before anything is sent', async () => {
    const { port, sends } = recordingPort();
    const binding = notificationHubBinding(services, portResolver(port, settings, 'push service'));
    const info = { ...base, tagExpression: '$UserId:{{{customerId}}}' };
    for (const customerId of ['u-1} || all', 'a b', 'x&&y', '(z)', '']) {
      await assert.rejects(binding.write!(info, scope, { a: '1' }, data({ customerId })), {
        code: 'FUNCTIONS_INVALID_BINDING',
        detail: { function: 'notify', binding: 'push', property: 'tagExpression' },
      });
    }
    await assert.rejects(binding.write!(base, scope, 'not json', data({})), { code: 'FUNCTIONS_INVALID_BINDING' });
    await assert.rejects(binding.write!(base, scope, { nested: { no: 1 } }, data({})), {
      code: 'FUNCTIONS_INVALID_BINDING',
      detail: { function: 'notify', binding: 'push', property: 'value.nested' },
    });
    await assert.rejects(binding.write!(base, scope, 42, data({})), { code: 'FUNCTIONS_INVALID_BINDING' });
    await assert.rejects(binding.write!({ ...base, platform: 'browser' }, scope, 42, data({})), {
      code: 'FUNCTIONS_INVALID_BINDING',
    });
    assert.equal(sends.length, 0);
  });

  it('without a push service for the connection: FUNCTIONS_BINDING_UNAVAILABLE', async () => {
    const binding = notificationHubBinding(
      services,
      portResolver<PushPort>(() => undefined, settings, 'push service'),
    );
    await assert.rejects(binding.write!(base, scope, { a: '1' }, data({})), { code: 'FUNCTIONS_BINDING_UNAVAILABLE' });
  });
});
