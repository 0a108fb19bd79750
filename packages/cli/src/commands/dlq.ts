/**
 * `hubbub dlq list|resubmit <entity>`: inspects a dead-letter queue and sends its messages back.
 * @module
 */
import { parseCommandArgs, UsageError } from '@hubbub/system';
import { intFlag, printJson, targetFrom, targetOptions, usage } from '../bus-client.ts';

export const summary = 'List or resubmit the dead-letter queue of a bus queue or subscription';

const help = usage(`Usage: hubbub dlq list <entity> [--count N] [--from SEQ]
       hubbub dlq resubmit <entity> [--count N | --all] [--to ENTITY]

<entity> is a queue or topic/subscriptions/name; its dead-letter queue is <entity>/$DeadLetterQueue.

  list       print dead-lettered messages (with deadLetterReason) without removing them
  resubmit   move messages back: send a copy (same body, properties and message id, without the
             dead-letter reason) and complete the dead-lettered one
  --count N  messages to list (default 10) or resubmit (default 1)
  --all      resubmit until the dead-letter queue is empty
  --to E     where resubmitted messages go (default: the queue itself; for a subscription, its
             topic — which delivers to every matching subscription of that topic)`);

const DLQ = '/$DeadLetterQueue';

/** The entity a dead-letter queue belongs to, and where resubmitted messages go by default. */
export function resubmitTarget(entity: string): string {
  const i = entity.toLowerCase().indexOf('/subscriptions/');
  return i > 0 ? entity.slice(0, i) : entity;
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...targetOptions,
    count: { type: 'string' },
    from: { type: 'string' },
    all: { type: 'boolean' },
    to: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [action, rawEntity, ...extra] = positionals;
  if (action !== 'list' && action !== 'resubmit') {
    throw new UsageError(`dlq needs 'list' or 'resubmit', got ${action === undefined ? 'nothing' : `'${action}'`}`);
  }
  if (rawEntity === undefined) throw new UsageError(`dlq ${action} needs an entity`);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const entity = rawEntity.toLowerCase().endsWith(DLQ.toLowerCase()) ? rawEntity.slice(0, -DLQ.length) : rawEntity;
  const dlq = `${entity}${DLQ}`;

  const target = await targetFrom(values);
  try {
    if (action === 'list') {
      if (values.all || values.to !== undefined) throw new UsageError('--all and --to apply to resubmit');
      const count = intFlag('count', values.count, 10);
      const listed = await target.peek(dlq, Math.min(count, 1000), intFlag('from', values.from, 1, 0));
      for (const m of listed) printJson(m);
      if (listed.length === 0) process.stderr.write(`no dead-lettered messages in ${dlq}\n`);
      return 0;
    }
    if (values.from !== undefined) throw new UsageError('--from applies to list');
    if (values.all && values.count !== undefined) throw new UsageError('give --count or --all, not both');
    const limit = values.all ? Number.POSITIVE_INFINITY : intFlag('count', values.count, 1);
    const to = values.to ?? resubmitTarget(entity);
    let moved = 0;
    while (moved < limit) {
      const got = await target.receive(dlq, true, 0);
      if (got === undefined) break;
      try {
        await target.send(to, got.outgoing);
      } catch (err) {
        await got.abandon().catch(() => {});
        throw err;
      }
      await got.complete();
      moved++;
    }
    printJson({ resubmitted: moved, from: dlq, to });
    return 0;
  } finally {
    await target.close();
  }
}
