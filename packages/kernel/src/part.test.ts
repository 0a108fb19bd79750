import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { it } from 'node:test';
import { mountParts } from './part.ts';

it('mountParts tries each part in order and stops at the first that takes the request', () => {
  const seen: string[] = [];
  const part = (name: string, takes: boolean) => ({
    handleRequest: () => {
      seen.push(name);
      return takes;
    },
  });
  const mount = mountParts([part('a', false), { handleUpgrade: () => true }, part('b', true), part('c', true)]);
  assert.equal(mount.handleRequest({} as IncomingMessage, {} as ServerResponse), true);
  assert.deepEqual(seen, ['a', 'b']);
  assert.equal(mountParts([part('x', false)]).handleRequest({} as IncomingMessage, {} as ServerResponse), false);
  assert.equal(mount.handleUpgrade({} as IncomingMessage, {} as never, Buffer.alloc(0)), true);
});
