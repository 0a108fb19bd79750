/**
 * `hubbub peek <entity>`: shows messages without receiving them.
 * @module
 */
import { parseCommandArgs, UsageError } from '@hubbub/system';
import { intFlag, printJson, targetFrom, targetOptions, usage } from '../bus-client.ts';

export const summary = 'Peek at messages of a bus queue or subscription without removing them';

const help = usage(`Usage: hubbub peek <entity> [options]

Prints up to --count messages in sequence order (active, locked, deferred and scheduled ones),
one JSON line each, without locking or removing them.

  --count N        messages to show (default 10, at most 1000)
  --from SEQ       start at this sequence number (default 1)`);

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...targetOptions,
    count: { type: 'string' },
    from: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [entity, ...extra] = positionals;
  if (entity === undefined) throw new UsageError('peek needs an entity: hubbub peek <entity>');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const count = intFlag('count', values.count, 10);
  if (count > 1000) throw new UsageError('--count must be at most 1000');
  const from = intFlag('from', values.from, 1, 0);
  const target = await targetFrom(values);
  try {
    for (const m of await target.peek(entity, count, from)) printJson(m);
  } finally {
    await target.close();
  }
  return 0;
}
