/**
 * `hubbub send <entity> [body]`: sends one message to a queue or topic.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { parseCommandArgs, UsageError } from '@hubbub/system';
import { type OutgoingMessage, printJson, targetFrom, targetOptions, usage } from '../bus-client.ts';

export const summary = 'Send a message to a bus queue or topic';

const help = usage(`Usage: hubbub send <entity> [body] [options]

Sends one message. The body is the argument, --body-file, or standard input when piped.
A body that is valid JSON defaults to content type application/json, anything else to text/plain.

  --subject, --label S    subject (label), e.g. driveby
  --content-type T        content type
  --property K=V          application property (repeatable); numbers and true/false are typed,
                          "quoted" values stay strings
  --message-id ID         message id (duplicate detection key)
  --correlation-id ID     correlation id
  --session-id ID         session id (required by session-enabled entities)
  --ttl SECONDS           time to live
  --body-file PATH        read the body from a file

Example (the seeds' test message, to the queue npm start's functions read):
  hubbub send locations '{"orderid":"1001","storeid":7,"lat":47.6,"longitude":-122.3}' \\
    --label driveby --content-type application/json`);

/** Types a `--property` value: numbers and booleans typed, `"quoted"` kept as a string. */
export function propertyValue(text: string): string | number | boolean {
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) return text.slice(1, -1);
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(text) && Number.isFinite(Number(text))) return Number(text);
  return text;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...targetOptions,
    subject: { type: 'string' },
    label: { type: 'string' },
    'content-type': { type: 'string' },
    property: { type: 'string', multiple: true },
    'message-id': { type: 'string' },
    'correlation-id': { type: 'string' },
    'session-id': { type: 'string' },
    ttl: { type: 'string' },
    'body-file': { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [entity, bodyArg, ...extra] = positionals;
  if (entity === undefined) throw new UsageError('send needs an entity: hubbub send <entity> [body]');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}' (quote the body)`);
  if (bodyArg !== undefined && values['body-file'] !== undefined) {
    throw new UsageError('give the body as an argument or with --body-file, not both');
  }
  if (values.subject !== undefined && values.label !== undefined && values.subject !== values.label) {
    throw new UsageError('--subject and --label are the same property; give one');
  }

  let body: Buffer;
  if (bodyArg !== undefined) body = Buffer.from(bodyArg, 'utf8');
  else if (values['body-file'] !== undefined) body = await readFile(values['body-file']);
  else if (!process.stdin.isTTY) body = await readStdin();
  else body = Buffer.alloc(0);

  const applicationProperties: OutgoingMessage['applicationProperties'] = {};
  for (const p of values.property ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--property must be key=value, got '${p}'`);
    applicationProperties[p.slice(0, eq)] = propertyValue(p.slice(eq + 1));
  }

  let contentType = values['content-type'];
  if (contentType === undefined && body.length > 0) {
    try {
      JSON.parse(body.toString('utf8'));
      contentType = 'application/json';
    } catch {
      contentType = 'text/plain';
    }
  }

  const message: OutgoingMessage = { body, applicationProperties };
  if (contentType !== undefined) message.contentType = contentType;
  const subject = values.subject ?? values.label;
  if (subject !== undefined) message.subject = subject;
  if (values['message-id'] !== undefined) message.messageId = values['message-id'];
  if (values['correlation-id'] !== undefined) message.correlationId = values['correlation-id'];
  if (values['session-id'] !== undefined) message.sessionId = values['session-id'];
  if (values.ttl !== undefined) {
    const seconds = Number(values.ttl);
    if (!(seconds > 0)) throw new UsageError(`--ttl must be a positive number of seconds, got '${values.ttl}'`);
    message.timeToLiveMs = Math.round(seconds * 1000);
  }

  const target = await targetFrom(values);
  try {
    await target.send(entity, message);
  } finally {
    await target.close();
  }
  printJson({ entity, sent: 1 });
  return 0;
}
