/**
 * `hubbub receive <entity>`: receives messages and prints them, one JSON object per line.
 * @module
 */
import { parseCommandArgs, UsageError } from '@hubbub/system';
import { intFlag, printJson, targetFrom, targetOptions, usage } from '../bus-client.ts';

export const summary = 'Receive (and remove) messages from a bus queue or subscription';

const help = usage(`Usage: hubbub receive <entity> [options]

Receives up to --count messages and prints each as one JSON line. <entity> is a queue,
topic/subscriptions/name, or either with /$DeadLetterQueue.

  --count N        messages to receive (default 1)
  --timeout S      seconds to wait for the first message (default 5); later ones are not waited for
  --peek-lock      receive under a lock and complete each message after printing it
                   (default: receive-and-delete)
  --abandon        with --peek-lock: give the messages back instead of completing them`);

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...targetOptions,
    count: { type: 'string' },
    timeout: { type: 'string' },
    'peek-lock': { type: 'boolean' },
    abandon: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [entity, ...extra] = positionals;
  if (entity === undefined) throw new UsageError('receive needs an entity: hubbub receive <entity>');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (values.abandon && !values['peek-lock']) throw new UsageError('--abandon needs --peek-lock');
  const count = intFlag('count', values.count, 1);
  const timeout = intFlag('timeout', values.timeout, 5, 0);
  const lock = values['peek-lock'] === true;

  const target = await targetFrom(values);
  let received = 0;
  try {
    while (received < count) {
      const got = await target.receive(entity, lock, received === 0 ? timeout : 0);
      if (got === undefined) break;
      printJson(got.message);
      if (lock) await (values.abandon ? got.abandon() : got.complete());
      received++;
    }
  } finally {
    await target.close();
  }
  if (received === 0) process.stderr.write(`no messages in ${entity}\n`);
  return 0;
}
