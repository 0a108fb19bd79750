/**
 * The push part on the command line (`npm start`, `hubbub start`): its flags and environment
 * variables turned into `startSystem` options.
 * @module
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './args.ts';
import type { PushKeys } from './keys-file.ts';
import type { SystemPushOptions } from './push-part.ts';

export const pushFlagsHelp = `  --push-port N       the Notification Hubs front's HTTPS port (default $HUBBUB_PUSH_PORT or 7443)
  --no-push           run without the push service ($HUBBUB_PUSH=off)
  Push settings: $HUBBUB_PUSH_HUB (hub name), $HUBBUB_VAPID_SUBJECT (mailto:/https:),
  $HUBBUB_FCM_SERVICE_ACCOUNT (a service-account JSON file; FCM is off without it),
  $HUBBUB_APNS_KEY_FILE, $HUBBUB_APNS_KEY_ID, $HUBBUB_APNS_TEAM_ID, $HUBBUB_APNS_TOPIC,
  $HUBBUB_APNS_ENDPOINT (production, sandbox or a URL; APNs is off without them); push keys
  instead of keys.json: $HUBBUB_VAPID_PUBLIC_KEY with $HUBBUB_VAPID_PRIVATE_KEY, $HUBBUB_PUSH_KEY,
  $HUBBUB_PUSH_LISTEN_KEY`;

export const pushFlags = {
  'push-port': { type: 'string' },
  'no-push': { type: 'boolean' },
} as const;

type Env = Readonly<Record<string, string | undefined>>;

const readFile = (variable: string, path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`$${variable}: '${path}' cannot be read (${(err as Error).message})`, { cause: err });
  }
};

/** The push options the flags and the environment give: `push`, `pushPort`, and push keys given explicitly. */
export function pushOptionsFrom(
  values: Readonly<Record<string, string | boolean | undefined>>,
  env: Env,
): { push: SystemPushOptions | false; pushPort?: number; keys?: Partial<PushKeys> } {
  const get = (name: string) => (env[name] ?? '').trim() || undefined;
  if (values['no-push'] === true || get('HUBBUB_PUSH') === 'off') return { push: false };
  const portText = (values['push-port'] as string | undefined) ?? get('HUBBUB_PUSH_PORT');
  const pushPort = portText === undefined ? undefined : Number(portText);
  if (pushPort !== undefined && !(Number.isInteger(pushPort) && pushPort >= 0 && pushPort <= 65_535)) {
    throw new UsageError(`--push-port: '${portText}' is not a port number.`);
  }
  const push: SystemPushOptions = {};
  const hub = get('HUBBUB_PUSH_HUB');
  if (hub !== undefined) push.hubName = hub;
  const subject = get('HUBBUB_VAPID_SUBJECT');
  if (subject !== undefined) push.vapidSubject = subject;
  const account = get('HUBBUB_FCM_SERVICE_ACCOUNT');
  if (account !== undefined) {
    const endpoint = get('HUBBUB_FCM_ENDPOINT');
    const tokenUri = get('HUBBUB_FCM_TOKEN_URI');
    push.fcm = {
      serviceAccount: readFile('HUBBUB_FCM_SERVICE_ACCOUNT', account),
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(tokenUri === undefined ? {} : { tokenUri }),
    };
  }
  const apns = ['HUBBUB_APNS_KEY_FILE', 'HUBBUB_APNS_KEY_ID', 'HUBBUB_APNS_TEAM_ID', 'HUBBUB_APNS_TOPIC'] as const;
  const given = apns.filter((name) => get(name) !== undefined);
  if (given.length > 0) {
    if (given.length < apns.length) {
      throw new UsageError(
        `APNs needs all of ${apns.map((n) => `$${n}`).join(', ')}; missing ${apns
          .filter((n) => !given.includes(n))
          .map((n) => `$${n}`)
          .join(', ')}`,
      );
    }
    const endpoint = get('HUBBUB_APNS_ENDPOINT');
    push.apns = {
      signingKey: readFile('HUBBUB_APNS_KEY_FILE', get('HUBBUB_APNS_KEY_FILE')!),
      keyId: get('HUBBUB_APNS_KEY_ID')!,
      teamId: get('HUBBUB_APNS_TEAM_ID')!,
      topic: get('HUBBUB_APNS_TOPIC')!,
      ...(endpoint === undefined ? {} : { endpoint }),
    };
  }
  const keys: Partial<Record<keyof PushKeys, unknown>> = {};
  const publicKey = get('HUBBUB_VAPID_PUBLIC_KEY');
  const privateKey = get('HUBBUB_VAPID_PRIVATE_KEY');
  if ((publicKey === undefined) !== (privateKey === undefined)) {
    throw new UsageError('give both $HUBBUB_VAPID_PUBLIC_KEY and $HUBBUB_VAPID_PRIVATE_KEY, or neither');
  }
  if (publicKey !== undefined) keys.vapid = { publicKey, privateKey };
  const full = get('HUBBUB_PUSH_KEY');
  if (full !== undefined) keys.full = full;
  const listen = get('HUBBUB_PUSH_LISTEN_KEY');
  if (listen !== undefined) keys.listen = listen;
  return {
    push,
    ...(pushPort === undefined ? {} : { pushPort }),
    ...(Object.keys(keys).length === 0 ? {} : { keys: keys as Partial<PushKeys> }),
  };
}
