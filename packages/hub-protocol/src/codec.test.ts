import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getProtocol, jsonProtocol, messagePackProtocol } from './index.ts';
import type { HubMessage } from './messages.ts';
import { sampleMessages } from './test-fixtures.ts';

for (const protocol of [jsonProtocol, messagePackProtocol]) {
  describe(`${protocol.name} protocol round trips`, () => {
    for (const [name, message] of sampleMessages) {
      it(name, () => {
        const bytes = protocol.writeMessage(message);
        assert.deepEqual(protocol.parseMessages(bytes), [message]);
      });
    }

    it('parses every message type from one payload', () => {
      const parts = sampleMessages.map(([, m]) => protocol.writeMessage(m));
      const payload = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const part of parts) {
        payload.set(part, offset);
        offset += part.length;
      }
      assert.deepEqual(
        protocol.parseMessages(payload),
        sampleMessages.map(([, m]) => m),
      );
    });

    it('returns no messages for an empty payload', () => {
      assert.deepEqual(protocol.parseMessages(new Uint8Array(0)), []);
    });

    it('returns independent bytes from each write', () => {
      const first = protocol.writeMessage({ type: 1, target: 'a', arguments: ['first'] });
      const copy = [...first];
      protocol.writeMessage({ type: 1, target: 'b', arguments: ['second, and longer'] });
      assert.deepEqual([...first], copy);
      const ping = protocol.writeMessage({ type: 6 });
      ping.fill(0);
      assert.deepEqual(protocol.parseMessages(protocol.writeMessage({ type: 6 })), [{ type: 6 }]);
    });

    it('accepts a Uint8Array view into a larger buffer', () => {
      const bytes = protocol.writeMessage({ type: 8, sequenceId: 5 });
      const big = new Uint8Array(bytes.length + 8).fill(0xff);
      big.set(bytes, 4);
      assert.deepEqual(protocol.parseMessages(big.subarray(4, 4 + bytes.length)), [{ type: 8, sequenceId: 5 }]);
    });

    it('is named, versioned and found by getProtocol', () => {
      assert.equal(protocol.version, 2);
      assert.equal(getProtocol(protocol.name), protocol);
      assert.equal(getProtocol(protocol.name.toUpperCase()), protocol);
    });
  });
}

describe('getProtocol', () => {
  it('returns undefined for unknown names, including inherited keys', () => {
    assert.equal(getProtocol('xml'), undefined);
    assert.equal(getProtocol('toString'), undefined);
    assert.equal(getProtocol('__proto__'), undefined);
  });
});

describe('writing normalizes', () => {
  const cases: ReadonlyArray<readonly [string, HubMessage, HubMessage]> = [
    ['empty headers dropped', { type: 5, headers: {}, invocationId: '1' }, { type: 5, invocationId: '1' }],
    [
      'empty streamIds dropped',
      { type: 1, target: 't', arguments: [], streamIds: [] },
      { type: 1, target: 't', arguments: [] },
    ],
    ['allowReconnect false dropped', { type: 7, allowReconnect: false }, { type: 7 }],
  ];
  for (const protocol of [jsonProtocol, messagePackProtocol]) {
    for (const [name, input, expected] of cases) {
      it(`${protocol.name}: ${name}`, () => {
        assert.deepEqual(protocol.parseMessages(protocol.writeMessage(input)), [expected]);
      });
    }
  }
});

describe('purity', () => {
  it('no source file imports a node: module or uses timers', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = new URL('.', import.meta.url);
    const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    assert.ok(sources.length > 5);
    for (const file of sources) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      assert.doesNotMatch(text, /from 'node:|require\(|setTimeout|setInterval|setImmediate/, file);
    }
  });
});
