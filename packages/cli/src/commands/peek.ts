/**
 * `hubbub peek <entity>`: shows messages without receiving them.
 * @module
 */
import { parseCommandArgs, UsageError } from '@hubbub/system';
import { type BusTarget, intFlag, printJson, RemoteError, targetFrom, targetOptions, usage } from '../bus-client.ts';

export const summary = 'Peek at messages of a queue, subscription or topic without removing them';

const help = usage(`Usage: hubbub peek <entity> [options]

Prints up to --count messages in sequence order (active, locked, deferred and scheduled ones),
one JSON line each, without locking or removing them; for a topic, those of each subscription
(with an "entity" field). Says so on standard error when there are none.

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
    // A topic keeps no messages of its own: peek each of its subscriptions.
    const topic = await topicOf(target, entity);
    const entities =
      topic === undefined ? [entity] : topic.subscriptions.map((s) => `${topic.name}/subscriptions/${s.name}`);
    if (topic !== undefined && entities.length === 0) {
      process.stderr.write(`${entity} is a topic with no subscriptions: nothing to peek\n`);
      return 0;
    }
    let shown = 0;
    for (const path of entities) {
      for (const m of await target.peek(path, count, from)) {
        printJson(topic === undefined ? m : { entity: path, ...m });
        shown++;
      }
    }
    if (shown === 0)
      process.stderr.write(`no messages in ${entities.join(', ')}${from > 1 ? ` from sequence number ${from}` : ''}\n`);
  } finally {
    await target.close();
  }
  return 0;
}

/** The topic `entity` names, if it names one (matched as the bus matches names: case-insensitively). */
async function topicOf(target: BusTarget, entity: string) {
  if (entity.includes('/')) return undefined;
  try {
    const { topics } = await target.overview();
    return topics.find((t) => t.name.toLowerCase() === entity.toLowerCase());
  } catch (err) {
    // A key without the Manage right cannot list entities: peek the name as it is.
    if (err instanceof RemoteError && err.status === 401) return undefined;
    throw err;
  }
}
