import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyPatch, checkPatch } from './patch.ts';

describe('patch', () => {
  it('applies operations to a copy', () => {
    const doc = { id: 'a', pk: 'p', list: [1, 2], o: { n: 1 } };
    const ops = checkPatch(
      [
        { op: 'add', path: '/list/0', value: 0 },
        { op: 'set', path: '/list/-', value: 3 },
        { op: 'incr', path: '/o/n', value: -1 },
        { op: 'remove', path: '/list/1' },
      ],
      ['pk'],
    );
    assert.deepEqual(applyPatch(doc, ops), { id: 'a', pk: 'p', list: [0, 2, 3], o: { n: 0 } });
    assert.deepEqual(doc.list, [1, 2]);
  });

  it('sets a property named __proto__ as data, not as the prototype', () => {
    const out = applyPatch(
      { id: 'a' },
      checkPatch([{ op: 'set', path: '/__proto__', value: { polluted: true } }], ['pk']),
    );
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(JSON.parse(JSON.stringify(out)), { id: 'a', ['__proto__']: { polluted: true } });
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  });

  it('guards the partition key and its parents', () => {
    assert.throws(() => checkPatch([{ op: 'remove', path: '/owner' }], ['owner', 'id']), {
      code: 'STORE_INVALID_PATCH',
    });
    assert.doesNotThrow(() => checkPatch([{ op: 'remove', path: '/owner/name' }], ['owner', 'id']));
    assert.throws(() => checkPatch([{ op: 'move', from: '/a', path: '/a/b' }], ['pk']), {
      code: 'STORE_INVALID_PATCH',
    });
  });
});
