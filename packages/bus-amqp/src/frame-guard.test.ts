import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameGuard } from './frame-guard.ts';

const header = (protocol: number): Buffer => Buffer.from([0x41, 0x4d, 0x51, 0x50, protocol, 1, 0, 0]);
const frame = (size: number): Buffer => {
  const b = Buffer.alloc(Math.max(size, 8));
  b.writeUInt32BE(size, 0);
  b.writeUInt8(2, 4);
  return b.subarray(0, Math.max(size, 8));
};

describe('FrameGuard', () => {
  it('passes headers and frames within the bound, however the bytes are split', () => {
    const stream = Buffer.concat([header(3), frame(20), frame(64), header(0), frame(512)]);
    for (const step of [1, 3, 7, stream.length]) {
      const guard = new FrameGuard(512);
      for (let i = 0; i < stream.length; i += step) {
        assert.deepEqual(guard.check(stream.subarray(i, i + step)), { ok: true }, `step ${step} at ${i}`);
      }
    }
  });

  it('refuses a frame over the bound, and everything after it', () => {
    const guard = new FrameGuard(512);
    assert.equal(guard.check(header(0)).ok, true);
    const verdict = guard.check(frame(513).subarray(0, 4));
    assert.equal(verdict.ok, false);
    assert.equal(guard.check(frame(8)).ok, false);
  });

  it('refuses a frame size under 8', () => {
    const guard = new FrameGuard(512);
    assert.equal(guard.check(Buffer.from([0, 0, 0, 7])).ok, false);
  });

  it('treats text that is not AMQP as an oversized frame', () => {
    assert.equal(new FrameGuard(65_536).check(Buffer.from('GET / HTTP/1.1\r\n')).ok, false);
  });
});
