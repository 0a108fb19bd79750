/**
 * `hubbub ls`: what a running Hubbub holds — queues and subscriptions with their active, scheduled
 * and dead-lettered counts, hubs with their connections and groups, functions with their triggers.
 * @module
 */
import type { BusOverview, EntityCounts } from '@hubbub/bus';
import { parseCommandArgs, type SystemStatus, UsageError } from '@hubbub/system';
import { targetFrom, targetOptions, usage } from '../bus-client.ts';

export const summary = 'List queues, topics and subscriptions with their counts, hubs and functions';

const help = usage(`Usage: hubbub ls [options]

Lists the entities of the bus with their active, scheduled and dead-lettered message counts, and
(from a running npm start, hubbub start or hubbub functions) its hubs with their connections and
groups and its functions with their triggers.

  --json           one JSON object instead of the tables`);

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...targetOptions, json: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`hubbub ls takes no arguments, got '${positionals[0]}'`);
  const target = await targetFrom(values);
  let overview: BusOverview;
  let status: SystemStatus | undefined;
  try {
    overview = await target.overview();
    status = await target.status();
  } finally {
    await target.close();
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...overview, ...(status ?? {}) })}\n`);
    return 0;
  }
  process.stdout.write(render(overview, status));
  return 0;
}

const countColumns = (c: EntityCounts): string[] => [String(c.active), String(c.scheduled), String(c.deadLettered)];

/**
 * Rows under a heading, each column as wide as its widest cell (numbers right-aligned), rows
 * indented under the heading; `(none)` when there are no rows.
 */
function table(heading: string[], rows: string[][]): string {
  if (rows.length === 0) return `${heading[0]}\n  (none)\n`;
  const widths = heading.map((h, i) => Math.max(h.length - (i === 0 ? 2 : 0), ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = heading.map((_, i) => i > 0 && rows.every((r) => /^\d*$/.test(r[i] ?? '')));
  const line = (cells: string[], first: number) =>
    cells
      .map((cell, i) => {
        const width = i === 0 ? first : widths[i]!;
        return numeric[i] ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return `${line(heading, widths[0]! + 2)}\n${rows.map((r) => `  ${line(r, widths[0]!)}`).join('\n')}\n`;
}

export function render(overview: BusOverview, status: SystemStatus | undefined): string {
  const counts = ['active', 'scheduled', 'dead-lettered'];
  const parts = [
    table(
      ['Queues', ...counts],
      overview.queues.map((q) => [q.name, ...countColumns(q)]),
    ),
    table(
      ['Topics / subscriptions', ...counts],
      overview.topics.flatMap((t) =>
        t.subscriptions.length === 0
          ? [[`${t.name} (no subscriptions)`, '', '', '']]
          : t.subscriptions.map((s) => [`${t.name}/${s.name}`, ...countColumns(s)]),
      ),
    ),
  ];
  if (status === undefined) {
    parts.push('Hubs and functions: not shown (this bus runs on its own, not in a running system)\n');
  } else {
    parts.push(
      table(
        ['Hubs', 'connections', 'groups'],
        status.hubs.map((h) => [h.name, String(h.connections), String(h.groups)]),
      ),
      table(
        ['Functions', 'trigger'],
        status.functions.map((f) => [f.name, f.route === undefined ? f.trigger : `${f.trigger} /${f.route}`]),
      ),
    );
  }
  return parts.join('\n');
}
