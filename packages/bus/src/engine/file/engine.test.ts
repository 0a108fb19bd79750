import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  write as fsWrite,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { waitFor } from '@hubbub/kernel';
import type { EngineOp, EngineState, StoredMessage } from '../port.ts';
import { FileEngine, type FlushTiming, type FsWrite } from './engine.ts';
import { decodeFrames, encodeFrame } from './log-codec.ts';

const dir = (): string => mkdtempSync(join(tmpdir(), 'hubbub-file-engine-'));
const msg = (seq: number, extra: Partial<StoredMessage> = {}): StoredMessage => ({
  entity: 'q',
  seq,
  body: new TextEncoder().encode(`body-${seq}`),
  bodyType: 'string',
  enqueuedTime: 1_000 + seq,
  deliveryCount: 0,
  state: 'active',
  ...extra,
});
const append = (seq: number, extra?: Partial<StoredMessage>): EngineOp => ({ op: 'append', message: msg(seq, extra) });
const segments = (d: string): string[] => readdirSync(d).filter((f) => f.endsWith('.log'));
const checkpoints = (d: string): string[] => readdirSync(d).filter((f) => f.endsWith('.ckpt'));
/** A copy of an open engine's directory: what a crash leaves on disk (the page cache survives a process kill). */
function copyOf(d: string): string {
  const copy = dir();
  for (const f of readdirSync(d)) if (f !== 'LOCK') writeFileSync(join(copy, f), readFileSync(join(d, f)));
  return copy;
}
/** Encodes `ops` as one frame and checks that the whole frame decodes back to them. */
function assertRoundTrip(ops: EngineOp[]): void {
  const got: EngineOp[] = [];
  const frame = encodeFrame(ops);
  assert.equal(
    decodeFrames(frame, (batch) => got.push(...batch)),
    frame.length,
  );
  assert.deepEqual(got, ops);
}
/** The sequence numbers a fresh engine replays from `d` (opened and closed again). */
/** Sequence numbers of every live message of an opened engine: held ones and parked ones (taken back). */
async function liveSeqs(engine: FileEngine, state: EngineState): Promise<number[]> {
  const seqs = state.messages.map((m) => m.seq);
  for (const p of state.parked ?? []) for (const m of await engine.backlog.take(p.entity, p.count)) seqs.push(m.seq);
  return seqs.sort((a, b) => a - b);
}

async function replayed(d: string): Promise<number[]> {
  const engine = new FileEngine({ dir: d });
  const seqs = await liveSeqs(engine, await engine.open());
  await engine.close();
  return seqs;
}

describe('log codec', () => {
  it('round-trips bodies, session state and tagged property values', () => {
    const when = new Date(123);
    const ops: EngineOp[] = [
      append(1, { applicationProperties: { when, big: 2n ** 70n, s: 'x', n: null } }),
      { op: 'session', entity: 'q', sessionId: 's', state: new Uint8Array([9, 8]) },
      { op: 'session', entity: 'q', sessionId: 't', state: null },
      { op: 'update', entity: 'q', seq: 1, patch: { deliveryCount: 2, applicationProperties: { when } } },
      { op: 'entity', entity: { key: 'q', kind: 'queue', props: { name: 'q', createdAt: when } } },
      { op: 'remove', entity: 'q', seq: 1 },
      { op: 'dedupe', entity: 'q', messageId: 'm', until: 5 },
    ];
    assertRoundTrip(ops);
  });

  it('round-trips every optional message field and a remove in binary records', () => {
    const full = append(7, {
      state: 'deferred',
      bodyType: 'json',
      body: new TextEncoder().encode('{"a":1}'),
      deliveryCount: 3,
      expiresAt: 9_000,
      scheduledEnqueueTime: 8_000,
      messageId: 'm-ü-7',
      correlationId: 'c',
      subject: 'driveby',
      contentType: 'application/json',
      to: 't',
      replyTo: 'r',
      replyToSessionId: 'rs',
      sessionId: 's-😀',
      partitionKey: 'p',
      timeToLive: 60_000,
      applicationProperties: { n: 1.5, b: true, big: -(2n ** 64n), d: new Date(5), s: 'x', z: null },
      deadLetterReason: 'why',
      deadLetterErrorDescription: 'because',
      deadLetterSource: 'q',
      hops: 2,
    });
    const ops: EngineOp[] = [
      full,
      append(8, { bodyType: 'bytes', body: new Uint8Array(0) }),
      { op: 'remove', entity: 'q', seq: 7 },
    ];
    assertRoundTrip(ops);
  });

  it('reads frames written by the version-1 (JSON) codec', () => {
    const got: EngineOp[] = [];
    const buf = readFileSync(new URL('../../../test/fixtures/log-v1.bin', import.meta.url));
    assert.equal(
      decodeFrames(buf, (batch) => got.push(...batch)),
      buf.length,
    );
    assert.deepEqual(
      got.map((op) => op.op),
      ['append', 'session', 'update', 'entity', 'dedupe', 'remove'],
    );
    const first = got[0] as Extract<EngineOp, { op: 'append' }>;
    assert.equal(new TextDecoder().decode(first.message.body), 'body-1');
    assert.equal(first.message.subject, 'driveby');
    assert.deepEqual(first.message.applicationProperties, { when: new Date(123), big: 2n ** 70n, s: 'x', n: null });
    assert.deepEqual((got[1] as Extract<EngineOp, { op: 'session' }>).state, new Uint8Array([9, 8]));
  });

  it('treats a frame with an unknown record kind as the end of the log', () => {
    const a = encodeFrame([append(1)]);
    const b = encodeFrame([{ op: 'remove', entity: 'q', seq: 1 }]);
    const payload = Buffer.from(b.subarray(8));
    payload[8] = 99; // the first record's kind byte
    const bad = Buffer.concat([Buffer.from(b.subarray(0, 4)), Buffer.alloc(4), payload]);
    bad.writeUInt32LE(crc32(payload), 4); // intact checksum, unknown content
    assert.equal(
      decodeFrames(Buffer.concat([a, bad]), () => {}),
      a.length,
    );
  });

  it('stops at a torn or corrupt frame', () => {
    const a = encodeFrame([append(1)]);
    const b = encodeFrame([append(2)]);
    const both = Buffer.concat([a, b]);
    assert.equal(
      decodeFrames(both.subarray(0, both.length - 3), () => {}),
      a.length,
    );
    const corrupt = Buffer.from(both);
    corrupt[a.length + 12] = corrupt[a.length + 12]! ^ 0xff;
    assert.equal(
      decodeFrames(corrupt, () => {}),
      a.length,
    );
  });
});

describe('file engine', () => {
  it('resolves a write only once its frame is on disk, sharing flushes between concurrent writes', async () => {
    const d = dir();
    const reported: FlushTiming[] = [];
    const engine = new FileEngine({ dir: d, onFlush: (f) => reported.push(f) });
    await engine.open();
    await Promise.all(Array.from({ length: 100 }, (_, i) => engine.write([append(i + 1)])));
    assert.ok(engine.flushes < 100, `expected group commit, got ${engine.flushes} flushes`);
    assert.equal(reported.length, engine.flushes);
    assert.equal(
      reported.reduce((n, f) => n + f.writes, 0),
      100,
    );
    assert.ok(reported.every((f) => f.bytes > 0 && f.ms >= 0));
    const [segment] = segments(d);
    let seen = 0;
    decodeFrames(readFileSync(join(d, segment!)), (ops) => {
      seen += ops.length;
    });
    assert.equal(seen, 100);
    await engine.close();
  });

  it('replays after reopen and truncates a torn tail', async () => {
    const d = dir();
    let engine = new FileEngine({ dir: d });
    await engine.open();
    await engine.write([append(1), append(2)]);
    await engine.write([{ op: 'remove', entity: 'q', seq: 1 }]);
    await engine.close();
    const path = join(d, segments(d)[0]!);
    const intact = statSync(path).size;
    appendFileSync(path, encodeFrame([append(3)]).subarray(0, 20));
    engine = new FileEngine({ dir: d });
    const state = await engine.open();
    assert.deepEqual(await liveSeqs(engine, state), [2]);
    assert.equal(state.sequences.q, 2);
    assert.equal(statSync(path).size, intact);
    await engine.write([append(4)]);
    await engine.close();
    engine = new FileEngine({ dir: d });
    assert.deepEqual(await liveSeqs(engine, await engine.open()), [2, 4]);
    await engine.close();
  });

  it('compacts into one base segment with the same live state and sequence watermark', async () => {
    const d = dir();
    let engine = new FileEngine({ dir: d });
    await engine.open();
    await engine.write([{ op: 'entity', entity: { key: 'q', kind: 'queue', props: { name: 'q' } } }]);
    for (let i = 1; i <= 50; i++) await engine.write([append(i)]);
    for (let i = 1; i <= 50; i++) if (i % 10 !== 0) await engine.write([{ op: 'remove', entity: 'q', seq: i }]);
    await engine.write([{ op: 'remove', entity: 'q', seq: 50 }]);
    const before = statSync(join(d, segments(d)[0]!)).size;
    await engine.compact();
    // The base takes the number after the old segment; new writes went to a fresh segment after it.
    assert.deepEqual(segments(d), ['00000002.base.log', '00000003.log']);
    assert.ok(statSync(join(d, '00000002.base.log')).size < before);
    await engine.write([append(51)]);
    await engine.close();
    engine = new FileEngine({ dir: d });
    const state = await engine.open();
    assert.deepEqual(await liveSeqs(engine, state), [10, 20, 30, 40, 51]);
    assert.equal(state.entities.length, 1);
    assert.equal(state.sequences.q, 51);
    await engine.close();
  });

  it('compacts on its own past the size threshold', async () => {
    const d = dir();
    const engine = new FileEngine({ dir: d, compactAfterBytes: 4_096 });
    await engine.open();
    for (let i = 1; i <= 200; i++) {
      await engine.write([append(i)]);
      await engine.write([{ op: 'remove', entity: 'q', seq: i }]);
    }
    await engine.close();
    const files = segments(d);
    assert.ok(files[0]!.endsWith('.base.log') && files.length <= 2, files.join());
  });

  it('keeps acknowledging writes while a compaction is in progress, and recovers from a crash mid-compaction', async () => {
    const d = dir();
    let held: () => void = () => {};
    let entered: () => void = () => {};
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const gate = new Promise<void>((r) => {
      held = r;
    });
    let steps = 0;
    const engine = new FileEngine({
      dir: d,
      compactionStep: async () => {
        if (steps++ === 1) {
          entered(); // one chunk is written; hold the compaction before the next
          await gate;
        }
      },
    });
    await engine.open();
    // 400 live messages: the base takes two chunks (256 ops each), and the compaction is held between them.
    await Promise.all(Array.from({ length: 1200 }, (_, i) => engine.write([append(i + 1)])));
    await Promise.all(
      Array.from({ length: 1200 }, (_, i) => i + 1)
        .filter((i) => i % 3 !== 0)
        .map((seq) => engine.write([{ op: 'remove', entity: 'q', seq }])),
    );
    let compacted = false;
    const compaction = engine.compact().then(() => {
      compacted = true;
    });
    await inside;
    assert.ok(readdirSync(d).includes('00000002.base.log.tmp'), 'the base is being written');
    const flushes = engine.flushes;
    await engine.write([append(1201)]);
    await engine.write([{ op: 'remove', entity: 'q', seq: 3 }]);
    await Promise.all([engine.write([append(1202)]), engine.write([append(1203)])]);
    assert.equal(compacted, false, 'the writes were acknowledged while the compaction was held');
    assert.ok(engine.flushes > flushes);

    // A crash now (the process dies; what was written is on disk): a copy of the directory recovers.
    const copy = dir();
    for (const f of readdirSync(d)) if (f !== 'LOCK') writeFileSync(join(copy, f), readFileSync(join(d, f)));
    const expected = [...Array.from({ length: 400 }, (_, i) => 3 * (i + 1)).filter((s) => s !== 3), 1201, 1202, 1203];
    const recovered = new FileEngine({ dir: copy });
    const state = await recovered.open();
    assert.deepEqual(await liveSeqs(recovered, state), expected);
    assert.equal(state.sequences.q, 1203);
    assert.ok(!readdirSync(copy).some((f) => f.endsWith('.tmp')), 'the unfinished base was discarded');
    await recovered.write([append(1204)]);
    await recovered.close();

    held();
    await compaction;
    assert.deepEqual(segments(d), ['00000002.base.log', '00000003.log']);
    await engine.close();
    const reopened = new FileEngine({ dir: d });
    assert.deepEqual(await liveSeqs(reopened, await reopened.open()), expected);
    await reopened.close();
  });

  it('abandons a compaction in progress on close, leaving a log that replays', async () => {
    const d = dir();
    let entered: () => void = () => {};
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const engine = new FileEngine({
      dir: d,
      compactionStep: async () => {
        entered();
        await gate;
      },
    });
    await engine.open();
    for (let i = 1; i <= 10; i++) await engine.write([append(i)]);
    await engine.write([{ op: 'remove', entity: 'q', seq: 1 }]);
    const compaction = engine.compact();
    await inside;
    await engine.write([append(11)]);
    const closing = engine.close();
    await engine.compact(); // asked while closing: nothing to do
    release();
    await closing;
    await compaction;
    assert.deepEqual(segments(d), ['00000001.log', '00000003.log'], 'no base was installed');
    assert.ok(!readdirSync(d).some((f) => f.endsWith('.tmp')));
    const reopened = new FileEngine({ dir: d });
    assert.deepEqual(await liveSeqs(reopened, await reopened.open()), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    await reopened.close();
  });

  it('ignores an unfinished compaction and segments older than the newest base', async () => {
    const d = dir();
    let engine = new FileEngine({ dir: d });
    await engine.open();
    await engine.write([append(1)]);
    await engine.compact();
    await engine.write([append(2)]);
    await engine.close();
    writeFileSync(join(d, '00000001.log'), encodeFrame([append(99)])); // stale, older than the base
    writeFileSync(join(d, '00000004.base.log.tmp'), 'half-written');
    engine = new FileEngine({ dir: d });
    assert.deepEqual(await liveSeqs(engine, await engine.open()), [1, 2]);
    assert.deepEqual(segments(d), ['00000002.base.log', '00000003.log', '00000004.log']);
    assert.ok(!readdirSync(d).some((f) => f.endsWith('.tmp')));
    await engine.close();
    assert.deepEqual(
      segments(d),
      ['00000002.base.log', '00000003.log'],
      'the segment nothing was written to is dropped',
    );
  });

  it('parks appends marked parked in its index and hands them back oldest first, durable only', async () => {
    const d = dir();
    const engine = new FileEngine({ dir: d, memoryMessagesPerQueue: 5 });
    const state = await engine.open();
    assert.deepEqual(state.parked, []);
    assert.equal(engine.backlog.memoryMessagesPerQueue, 5);
    await engine.write([append(1)]);
    await engine.write([2, 3, 4].map((seq) => ({ op: 'append', message: msg(seq), parked: true }) as const));
    assert.equal(engine.backlog.parked, 3);
    assert.deepEqual(
      (await engine.backlog.peek('q', 3, 10)).map((m) => [m.seq, new TextDecoder().decode(m.body)]),
      [
        [3, 'body-3'],
        [4, 'body-4'],
      ],
    );
    assert.deepEqual(
      (await engine.backlog.take('q', 2)).map((m) => m.seq),
      [2, 3],
    );
    assert.equal(engine.backlog.parked, 1);
    await engine.write([{ op: 'remove', entity: 'q', seq: 2 }]); // taken back: settled as any message
    await engine.close();
    assert.deepEqual(await replayed(d), [1, 3, 4]);
  });

  it('restarts from the checkpoint of a clean close, replaying only what was written after it', async () => {
    const d = dir();
    let engine = new FileEngine({ dir: d, memoryMessagesPerQueue: 2 });
    await engine.open();
    await engine.write([{ op: 'entity', entity: { key: 'q', kind: 'queue', props: { name: 'q' } } }]);
    await engine.write([append(1), append(2)]);
    const parked = Array.from(
      { length: 100 },
      (_, i) => ({ op: 'append', message: msg(i + 3), parked: true }) as const,
    );
    await engine.write(parked);
    await engine.write([{ op: 'remove', entity: 'q', seq: 1 }]);
    await engine.close();
    const expected = Array.from({ length: 101 }, (_, i) => i + 2);
    assert.deepEqual(checkpoints(d), ['00000002.ckpt']);

    engine = new FileEngine({ dir: d });
    const state = await engine.open();
    assert.equal(engine.restoredFromCheckpoint, true);
    assert.deepEqual(state.parked, [{ entity: 'q', count: 100, bytes: state.parked![0]!.bytes }]);
    assert.equal(state.sequences.q, 102);
    assert.deepEqual(
      segments(d),
      ['00000001.log', '00000002.log'],
      'writes go to a segment the checkpoint does not cover',
    );
    await engine.write([append(103), { op: 'remove', entity: 'q', seq: 3 }]);
    // What a crash leaves: the checkpoint, and a segment written after it, replayed on top.
    const crashed = copyOf(d);
    assert.deepEqual(
      await liveSeqs(engine, state), // what open() handed over, less the parked one removed since
      expected.filter((s) => s !== 3),
    );
    await engine.close();
    const recovered = new FileEngine({ dir: crashed });
    assert.deepEqual(
      await liveSeqs(recovered, await recovered.open()),
      [...expected, 103].filter((s) => s !== 3),
    );
    assert.equal(recovered.restoredFromCheckpoint, true);
    await recovered.close();
  });

  it('checkpoints every checkpointAfterBytes while running, so a crash replays only the log after it', async () => {
    const d = dir();
    const engine = new FileEngine({ dir: d, checkpointAfterBytes: 4096, memoryMessagesPerQueue: 1 });
    await engine.open();
    for (let i = 1; i <= 300; i++) {
      await engine.write([{ op: 'append', message: msg(i), parked: i > 1 }]);
      if (i % 3 === 0) await engine.write([{ op: 'remove', entity: 'q', seq: i - 1 }]);
    }
    await waitFor(() => engine.checkpoints > 0 && checkpoints(d).length > 0, { what: 'a checkpoint to be written' });
    const expected = Array.from({ length: 300 }, (_, i) => i + 1).filter((s) => s % 3 !== 2);
    const crashed = copyOf(d);
    await engine.close();
    const recovered = new FileEngine({ dir: crashed });
    assert.deepEqual(await liveSeqs(recovered, await recovered.open()), expected);
    assert.equal(recovered.restoredFromCheckpoint, true);
    await recovered.close();
  });

  it("records a compaction's base as a checkpoint, so a crash after it replays only the log after the base", async () => {
    const d = dir();
    const engine = new FileEngine({ dir: d, memoryMessagesPerQueue: 1 });
    await engine.open();
    for (let i = 1; i <= 40; i++) await engine.write([{ op: 'append', message: msg(i), parked: i > 1 }]);
    for (let i = 2; i <= 40; i += 2) await engine.write([{ op: 'remove', entity: 'q', seq: i }]);
    await engine.compact();
    assert.deepEqual(checkpoints(d), ['00000003.ckpt']);
    await engine.write([
      { op: 'append', message: msg(41), parked: true },
      { op: 'remove', entity: 'q', seq: 3 },
    ]);
    const crashed = copyOf(d);
    await engine.close();
    const recovered = new FileEngine({ dir: crashed });
    const expected = [1, ...Array.from({ length: 18 }, (_, i) => 2 * i + 5), 41]; // 3 and the even ones removed
    assert.deepEqual(await liveSeqs(recovered, await recovered.open()), expected);
    assert.equal(recovered.restoredFromCheckpoint, true);
    await recovered.close();
  });

  it('ignores a checkpoint whose segments changed after it, and replays the whole log', async () => {
    const d = dir();
    let engine = new FileEngine({ dir: d });
    await engine.open();
    await engine.write([append(1), append(2)]);
    await engine.close();
    // A covered segment that grew (as if written after the checkpoint) no longer matches it.
    appendFileSync(join(d, '00000001.log'), encodeFrame([append(3)]));
    engine = new FileEngine({ dir: d });
    assert.deepEqual(await liveSeqs(engine, await engine.open()), [1, 2, 3]);
    assert.equal(engine.restoredFromCheckpoint, false);
    assert.deepEqual(checkpoints(d), [], 'the stale checkpoint is deleted');
    await engine.close();
  });

  it("lets one engine at a time use a directory, and takes over a dead owner's lock", async () => {
    const d = dir();
    const first = new FileEngine({ dir: d });
    await first.open();
    await assert.rejects(new FileEngine({ dir: d }).open(), { code: 'BUS_DIR_LOCKED' });
    await first.close();
    writeFileSync(join(d, 'LOCK'), String(process.ppid)); // a live process owns it
    await assert.rejects(new FileEngine({ dir: d }).open(), { code: 'BUS_DIR_LOCKED' });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(d, 'LOCK'), dead); // its owner is gone (killed without closing)
    const taker = new FileEngine({ dir: d });
    await taker.open();
    assert.equal(readFileSync(join(d, 'LOCK'), 'utf8').split(' ')[0]?.trim(), String(process.pid));
    await taker.close();
  });

  it('writes flushes concurrently but acknowledges them in log order', async () => {
    const d = dir();
    let held: (() => void) | undefined;
    let frames = 0;
    let secondLanded = false;
    const write: FsWrite = (fd, buffer, offset, length, position, callback) => {
      if (length >= 1024 * 1024) return fsWrite(fd, buffer, offset, length, position, callback); // a prefill
      const first = frames++ === 0;
      fsWrite(fd, buffer, offset, length, position, (err, n) => {
        if (first) held = () => callback(err, n);
        else {
          callback(err, n);
          secondLanded = true;
        }
      });
    };
    const engine = new FileEngine({ dir: d, fsWrite: write, flushAfterWrites: 1 });
    await engine.open();
    const order: number[] = [];
    const a = engine.write([append(1)]).then(() => order.push(1));
    await waitFor(() => held, { what: 'the first flush to be written and held' });
    const b = engine.write([append(2)]).then(() => order.push(2));
    await waitFor(() => secondLanded, { what: 'the second flush to land while the first is held' });
    await new Promise((r) => setImmediate(r)); // what its landing would resolve has run
    assert.deepEqual(order, [], 'the second flush is durable but waits for the first');
    held!();
    await Promise.all([a, b]);
    assert.deepEqual(order, [1, 2]);
    await engine.close();
    assert.deepEqual(await replayed(d), [1, 2]);
  });

  it('group-commits: the writes that arrive while a flush is on its way to disk share the next one', async () => {
    const d = dir();
    let held: (() => void) | undefined;
    let frames = 0;
    const write: FsWrite = (fd, buffer, offset, length, position, callback) => {
      if (length >= 1024 * 1024) return fsWrite(fd, buffer, offset, length, position, callback); // a prefill
      const first = frames++ === 0;
      fsWrite(fd, buffer, offset, length, position, (err, n) => {
        if (first) held = () => callback(err, n);
        else callback(err, n);
      });
    };
    const flushes: FlushTiming[] = [];
    const engine = new FileEngine({ dir: d, fsWrite: write, onFlush: (f) => flushes.push(f) });
    await engine.open();
    const first = engine.write([append(1)]);
    await waitFor(() => held, { what: 'the first flush to be written and held' });
    const rest: Promise<void>[] = [];
    for (let seq = 2; seq <= 6; seq++) {
      rest.push(engine.write([append(seq)]));
      await new Promise((r) => setImmediate(r)); // each in a turn of its own
    }
    assert.equal(frames, 1, 'nothing else is written while the first flush is on its way');
    held!();
    await Promise.all([first, ...rest]);
    assert.deepEqual(
      flushes.map((f) => f.writes),
      [1, 5],
    );
    await engine.close();
    assert.deepEqual(await replayed(d), [1, 2, 3, 4, 5, 6]);
  });

  it('fails a write that does not reach the disk, and every flush after it, keeping what was acknowledged', async () => {
    const d = dir();
    let frames = 0;
    let release: (() => void) | undefined;
    const write: FsWrite = (fd, buffer, offset, length, position, callback) => {
      if (length >= 1024 * 1024) return fsWrite(fd, buffer, offset, length, position, callback);
      frames++;
      if (frames === 2) {
        // The second flush never lands; it reports EIO once the third one is on disk.
        release = () => callback(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }), 0);
        return;
      }
      fsWrite(fd, buffer, offset, length, position, (err, n) => {
        callback(err, n);
        if (frames === 3) release?.();
      });
    };
    const engine = new FileEngine({ dir: d, fsWrite: write, flushAfterWrites: 1 });
    await engine.open();
    await engine.write([append(1)]);
    const lost = engine.write([append(2)]);
    await waitFor(() => frames === 2, { what: 'the second flush to start' });
    const after = engine.write([append(3)]); // written while the second is in flight, at the next position
    await assert.rejects(lost, { code: 'BUS_ENGINE_FAILURE' });
    await assert.rejects(after, { code: 'BUS_ENGINE_FAILURE' });
    await assert.rejects(engine.write([append(4)]), { code: 'BUS_ENGINE_FAILURE' });
    await engine.close();
    assert.deepEqual(await replayed(d), [1], 'replay stops where the failed frame should have been');
    const reopened = new FileEngine({ dir: d });
    await reopened.open();
    await reopened.write([append(5)]);
    await reopened.close();
    assert.deepEqual(await replayed(d), [1, 5]);
  });

  it('keeps the segment zero-filled ahead of the log, replays across the zeros and trims them on close', async () => {
    const d = dir();
    const engine = new FileEngine({ dir: d });
    await engine.open();
    for (let i = 1; i <= 20; i++) await engine.write([append(i)]);
    const path = join(d, segments(d)[0]!);
    const end = (): number => decodeFrames(readFileSync(path), () => {});
    await waitFor(() => statSync(path).size >= end() + 1024 * 1024, { what: 'a prefill past the log end' });

    // A crash now leaves the zeros on disk: a copy of the directory replays and appends after the frames.
    const copy = dir();
    writeFileSync(join(copy, segments(d)[0]!), readFileSync(path));
    const recovered = new FileEngine({ dir: copy });
    assert.equal((await liveSeqs(recovered, await recovered.open())).length, 20);
    await recovered.write([append(21)]);
    await recovered.close();
    assert.equal((await replayed(copy)).at(-1), 21);

    await engine.close();
    assert.equal(statSync(path).size, end(), 'close trims the unused zeros');
  });

  it('accepts zeros after the last frame of an older segment', async () => {
    const d = dir();
    writeFileSync(join(d, '00000001.log'), Buffer.concat([encodeFrame([append(1)]), Buffer.alloc(3000)]));
    writeFileSync(join(d, '00000002.log'), encodeFrame([append(2)]));
    assert.deepEqual(await replayed(d), [1, 2]);
  });

  it('refuses out-of-range pipeline options with BUS_INVALID_OPTION', () => {
    assert.throws(() => new FileEngine({ dir: dir(), maxInFlight: 0 }), { code: 'BUS_INVALID_OPTION' });
    assert.throws(() => new FileEngine({ dir: dir(), flushAfterWrites: 1.5 }), { code: 'BUS_INVALID_OPTION' });
  });

  it('rejects writes after close with BUS_CLOSED', async () => {
    const engine = new FileEngine({ dir: dir() });
    await engine.open();
    await engine.close();
    await assert.rejects(engine.write([append(1)]), { code: 'BUS_CLOSED' });
  });

  it('refuses a corrupt segment that is not the last one', async () => {
    const d = dir();
    writeFileSync(join(d, '00000001.log'), Buffer.concat([encodeFrame([append(1)]), Buffer.from('garbage!!!!')]));
    writeFileSync(join(d, '00000002.log'), encodeFrame([append(2)]));
    await assert.rejects(new FileEngine({ dir: d }).open(), { code: 'BUS_ENGINE_FAILURE' });
  });
});
