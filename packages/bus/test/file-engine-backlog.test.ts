import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileEngine } from '@hubbub/bus/engine';
import { describeBusEngine } from '@hubbub/bus/engine/conformance';

// The whole suite again with a backlog past two messages a queue: nearly every message is parked on
// disk and taken back, through every path (settlement, peek, TTL, forwarding, restart, compaction).
const root = mkdtempSync(join(tmpdir(), 'hubbub-bus-backlog-'));
let n = 0;
describeBusEngine({
  name: 'file, 2 messages a queue in memory',
  create: () => createFileEngine({ dir: join(root, String(++n)), memoryMessagesPerQueue: 2 }),
  reopen: (closed) => createFileEngine({ dir: closed.dir, memoryMessagesPerQueue: 2 }),
});
