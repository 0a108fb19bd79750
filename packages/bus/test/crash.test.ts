import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { openBus } from '../src/client.ts';

const child = new URL('./fixtures/crash-child.ts', import.meta.url).pathname;
const COUNT = 50_000;

interface Run {
  acked: Set<number>;
  /** Completion started (it may or may not have become durable before the kill). */
  completing: Set<number>;
  completed: Set<number>;
  /** Most messages the child's engine had parked on disk at once, and checkpoints it wrote (backlog runs). */
  parked: number;
  checkpoints: number;
}

/** Runs the child until `killAfterAcks` sends were acknowledged, then SIGKILLs it. */
function runAndKill(dir: string, killAfterAcks: number, memory?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = [child, dir, String(COUNT), ...(memory === undefined ? [] : [String(memory)])];
    const proc = spawn(process.execPath, ['--import', 'tsx', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked = new Set<number>();
    const completing = new Set<number>();
    const completed = new Set<number>();
    let parked = 0;
    let checkpoints = 0;
    let killed = false;
    const lines = createInterface({ input: proc.stdout });
    lines.on('line', (line) => {
      const [kind, ...ids] = line.split(' ');
      if (kind === 'S') for (const id of ids) acked.add(Number(id));
      else if (kind === 'R') completing.add(Number(ids[0]));
      else if (kind === 'C') completed.add(Number(ids[0]));
      else if (kind === 'P') {
        parked = Math.max(parked, Number(ids[0]));
        checkpoints = Math.max(checkpoints, Number(ids[1]));
      }
      if (!killed && acked.size >= killAfterAcks) {
        killed = true;
        proc.kill('SIGKILL');
      }
    });
    proc.on('error', reject);
    // 'close' (not 'exit'): every line the child wrote before it died must be read first.
    proc.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited before the kill (signal ${signal})`));
      else resolve({ acked, completing, completed, parked, checkpoints });
    });
  });
}

/** Kills a child mid-stream, reopens its directory and checks nothing acknowledged is lost or resurrected. */
async function crashAndCheck(memory?: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-bus-crash-'));
  const killAt = 15_000 + Math.floor(Math.random() * 20_000);
  const run = await runAndKill(dir, killAt, memory);
  const { acked, completing, completed } = run;
  assert.ok(acked.size >= killAt, 'the child acknowledged sends before the kill');
  assert.ok(completed.size > 0, 'the child completed messages before the kill');

  await using bus = await openBus({ url: `file://${dir}` });
  const receiver = bus.createReceiver('crash', { receiveMode: 'receiveAndDelete' });
  const recovered = new Set<number>();
  for (;;) {
    const batch = await receiver.receiveMessages(1_000, { maxWaitTimeMs: 0 });
    if (batch.length === 0) break;
    for (const m of batch) recovered.add((m.body as { id: number }).id);
  }
  // Acknowledged and never handed to a completion: must be there. (A completion in flight at the
  // kill may have become durable without its acknowledgement being printed.)
  const lost = [...acked].filter((id) => !completing.has(id) && !recovered.has(id));
  const inFlight = [...completing].filter((id) => !completed.has(id));
  assert.ok(inFlight.length <= 64, `at most 4 receivers × 16 prefetched completions in flight (${inFlight.length})`);
  assert.deepEqual(lost, [], 'acknowledged sends missing after restart');
  const resurrected = [...completed].filter((id) => recovered.has(id));
  assert.deepEqual(resurrected, [], 'completed messages delivered again after restart');
  // The child compacts past 512 KiB, so the kill also lands on a compacted log.
  assert.ok(
    readdirSync(dir).some((f) => f.endsWith('.base.log')),
    'the log was compacted during the run',
  );
  return run;
}

describe('file engine crash safety', () => {
  it('delivers every acknowledged send and keeps every completion after SIGKILL', async () => {
    await crashAndCheck();
  });

  it('does the same with a deep queue parked on disk (the backlog) across checkpoints and compactions', async () => {
    const run = await crashAndCheck(64);
    assert.ok(run.parked > 0, 'messages were parked on disk before the kill');
    assert.ok(run.checkpoints > 0, 'the index was checkpointed before the kill');
  });
});
