import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { EngineOp, StoredMessage } from './engine.ts';
import { FileEngine, type FlushTiming } from './file-engine.ts';
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
    const got: EngineOp[] = [];
    const frame = encodeFrame(ops);
    assert.equal(
      decodeFrames(frame, (batch) => got.push(...batch)),
      frame.length,
    );
    assert.deepEqual(got, ops);
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
    assert.deepEqual(
      state.messages.map((m) => m.seq),
      [2],
    );
    assert.equal(state.sequences.q, 2);
    assert.equal(statSync(path).size, intact);
    await engine.write([append(4)]);
    await engine.close();
    engine = new FileEngine({ dir: d });
    assert.deepEqual(
      (await engine.open()).messages.map((m) => m.seq),
      [2, 4],
    );
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
    assert.deepEqual(
      state.messages.map((m) => m.seq),
      [10, 20, 30, 40, 51],
    );
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
    assert.deepEqual(
      state.messages.map((m) => m.seq),
      expected,
    );
    assert.equal(state.sequences.q, 1203);
    assert.ok(!readdirSync(copy).some((f) => f.endsWith('.tmp')), 'the unfinished base was discarded');
    await recovered.write([append(1204)]);
    await recovered.close();

    held();
    await compaction;
    assert.deepEqual(segments(d), ['00000002.base.log', '00000003.log']);
    await engine.close();
    const reopened = new FileEngine({ dir: d });
    assert.deepEqual(
      (await reopened.open()).messages.map((m) => m.seq),
      expected,
    );
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
    assert.deepEqual(
      (await reopened.open()).messages.map((m) => m.seq),
      [2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    );
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
    assert.deepEqual(
      (await engine.open()).messages.map((m) => m.seq),
      [1, 2],
    );
    assert.deepEqual(readdirSync(d).sort(), ['00000002.base.log', '00000003.log', 'LOCK']);
    await engine.close();
    assert.deepEqual(readdirSync(d).sort(), ['00000002.base.log', '00000003.log']);
  });

  it("lets one engine at a time use a directory, and takes over a dead owner's lock", async () => {
    const d = dir();
    const first = new FileEngine({ dir: d });
    await first.open();
    await assert.rejects(new FileEngine({ dir: d }).open(), { code: 'BUS_ENGINE_FAILURE' });
    await first.close();
    writeFileSync(join(d, 'LOCK'), String(process.ppid)); // a live process owns it
    await assert.rejects(new FileEngine({ dir: d }).open(), { code: 'BUS_ENGINE_FAILURE' });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(d, 'LOCK'), dead); // its owner is gone (killed without closing)
    const taker = new FileEngine({ dir: d });
    await taker.open();
    assert.equal(readFileSync(join(d, 'LOCK'), 'utf8'), String(process.pid));
    await taker.close();
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
