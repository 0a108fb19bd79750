import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pushOptionsFrom } from './push-env.ts';

const dir = mkdtempSync(join(tmpdir(), 'hubbub-push-env-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('pushOptionsFrom', () => {
  it('is on with Web Push only when nothing is set; --no-push and HUBBUB_PUSH=off turn it off', () => {
    assert.deepEqual(pushOptionsFrom({}, {}), { push: {} });
    assert.deepEqual(pushOptionsFrom({ 'no-push': true }, {}), { push: false });
    assert.deepEqual(pushOptionsFrom({}, { HUBBUB_PUSH: 'off' }), { push: false });
  });

  it('reads the port, hub, subject, keys, and the FCM and APNs files', () => {
    const account = join(dir, 'account.json');
    writeFileSync(account, '{"project_id":"p"}');
    const p8 = join(dir, 'AuthKey.p8');
    writeFileSync(p8, 'PEM');
    const got = pushOptionsFrom(
      { 'push-port': '9443' },
      {
        HUBBUB_PUSH_HUB: 'orders',
        HUBBUB_VAPID_SUBJECT: 'mailto:ops@example.com',
        HUBBUB_FCM_SERVICE_ACCOUNT: account,
        HUBBUB_APNS_KEY_FILE: p8,
        HUBBUB_APNS_KEY_ID: 'ABC123DEFG',
        HUBBUB_APNS_TEAM_ID: 'DEF123GHIJ',
        HUBBUB_APNS_TOPIC: 'com.example.app',
        HUBBUB_APNS_ENDPOINT: 'sandbox',
        HUBBUB_VAPID_PUBLIC_KEY: 'pub',
        HUBBUB_VAPID_PRIVATE_KEY: 'priv',
        HUBBUB_PUSH_KEY: 'k'.repeat(32),
      },
    );
    assert.deepEqual(got, {
      push: {
        hubName: 'orders',
        vapidSubject: 'mailto:ops@example.com',
        fcm: { serviceAccount: '{"project_id":"p"}' },
        apns: {
          signingKey: 'PEM',
          keyId: 'ABC123DEFG',
          teamId: 'DEF123GHIJ',
          topic: 'com.example.app',
          endpoint: 'sandbox',
        },
      },
      pushPort: 9443,
      keys: { vapid: { publicKey: 'pub', privateKey: 'priv' }, full: 'k'.repeat(32) },
    });
  });

  it('refuses a bad port, half an APNs or VAPID setting and an unreadable file with CLI_USAGE', () => {
    for (const [values, env] of [
      [{ 'push-port': '70000' }, {}],
      [{}, { HUBBUB_APNS_KEY_ID: 'ABC123DEFG' }],
      [{}, { HUBBUB_VAPID_PUBLIC_KEY: 'pub' }],
      [{}, { HUBBUB_FCM_SERVICE_ACCOUNT: join(dir, 'missing.json') }],
    ] as const) {
      assert.throws(() => pushOptionsFrom(values, env), { code: 'CLI_USAGE' });
    }
  });
});
