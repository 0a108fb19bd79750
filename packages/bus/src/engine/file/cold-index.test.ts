import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ColdList } from './cold-index.ts';

const seqs = (refs: ReadonlyArray<{ seq: number }>): number[] => refs.map((r) => r.seq);

describe('cold index', () => {
  it('keeps entries in sequence order through growth, takes from the head and tombstones by sequence number', () => {
    const list = new ColdList();
    for (let seq = 1; seq <= 1000; seq++) list.push(seq, 1, seq * 10, 10);
    assert.equal(list.count, 1000);
    assert.equal(list.bytes, 10_000);
    assert.deepEqual(seqs(list.peekHead(3)), [1, 2, 3]);
    assert.equal(list.remove(2), true);
    assert.equal(list.remove(2), false, 'already a tombstone');
    assert.equal(list.remove(5000), false);
    assert.equal(list.get(2), undefined);
    assert.deepEqual(list.get(700), { abs: 699, seq: 700, seg: 1, pos: 7000, len: 10 });
    assert.deepEqual(seqs(list.peekHead(3)), [1, 3, 4]);
    assert.deepEqual(seqs(list.from(998, 10)), [998, 999, 1000]);
    const head = list.peekHead(500);
    list.dropThrough(head.at(-1)!.abs + 1);
    assert.equal(list.count, 1000 - 1 - 500);
    assert.deepEqual(seqs(list.peekHead(2)), [502, 503]);
    // Pushing past the end reclaims the taken head before growing; absolute indices stay put.
    for (let seq = 1001; seq <= 1600; seq++) list.push(seq, 2, seq, 1);
    assert.deepEqual(list.get(1600)?.abs, 1599);
    assert.deepEqual(list.get(502)?.abs, 501);
    assert.equal(list.lastSeq(), 1600);
  });

  it('re-points an entry a compaction copied unless it was taken or removed meanwhile', () => {
    const list = new ColdList();
    for (let seq = 1; seq <= 4; seq++) list.push(seq, 1, seq * 100, 50);
    const captured = list.all();
    list.dropThrough(captured[0]!.abs + 1); // 1 taken
    list.remove(3);
    for (const ref of captured) list.move(ref, 9, ref.seq);
    assert.deepEqual(
      list.all().map((r) => [r.seq, r.seg, r.pos]),
      [
        [2, 9, 2],
        [4, 9, 4],
      ],
    );
  });

  it('packs its live entries and unpacks them into a list that grows on', () => {
    const list = new ColdList();
    for (let seq = 1; seq <= 5; seq++) list.push(seq, 3, seq, 7);
    list.remove(2);
    const p = list.pack();
    const back = ColdList.unpack(p.seq, p.seg, p.pos, p.len);
    assert.equal(back.count, 4);
    assert.equal(back.bytes, 28);
    back.push(6, 4, 60, 7);
    assert.deepEqual(seqs(back.all()), [1, 3, 4, 5, 6]);
    const empty = ColdList.unpack(new Float64Array(0), new Uint32Array(0), new Float64Array(0), new Uint32Array(0));
    empty.push(1, 1, 1, 1);
    assert.deepEqual(seqs(empty.all()), [1]);
  });
});
