/** The REST API's header chores: session tokens, the cookie, ETags, Idempotency-Key, loopback origins. */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { it } from 'node:test';
import { isDeliveryError } from './errors.ts';
import { etagHeader, idempotencyKeyOf, ifMatchOf, isLoopbackOrigin, sessionCookie, tokenOf } from './http.ts';

const request = (headers: Record<string, string | string[]>) => ({ headers }) as unknown as IncomingMessage;

it('takes the bearer token first, else the session cookie', () => {
  assert.deepEqual(tokenOf(request({ authorization: 'Bearer abc', cookie: 'hubbub_session=def' })), {
    token: 'abc',
    via: 'bearer',
  });
  assert.deepEqual(tokenOf(request({ cookie: 'a=1; hubbub_session=def; b=2' })), { token: 'def', via: 'cookie' });
  assert.deepEqual(tokenOf(request({ authorization: 'Basic x' })), { token: '', via: 'bearer' });
  assert.equal(tokenOf(request({ cookie: 'other=1' })), undefined);
  assert.equal(tokenOf(request({})), undefined);
});

it('writes the cookie HttpOnly and SameSite=Lax, Secure only over https', () => {
  assert.equal(sessionCookie('t', 60, false), 'hubbub_session=t; HttpOnly; SameSite=Lax; Path=/; Max-Age=60');
  assert.equal(sessionCookie('t', 60, true), 'hubbub_session=t; HttpOnly; SameSite=Lax; Path=/; Max-Age=60; Secure');
});

it('quotes an ETag once and reads If-Match with or without quotes', () => {
  assert.equal(etagHeader('"abc"'), '"abc"');
  assert.equal(etagHeader('abc'), '"abc"');
  assert.equal(ifMatchOf(request({ 'if-match': '"abc"' })), 'abc');
  assert.equal(ifMatchOf(request({ 'if-match': 'W/"abc"' })), 'abc');
  assert.equal(ifMatchOf(request({})), undefined);
  assert.equal(ifMatchOf(request({ 'if-match': '*' })), undefined);
});

it('requires one Idempotency-Key of 8-128 visible ASCII characters', () => {
  assert.equal(
    idempotencyKeyOf(request({ 'idempotency-key': '1b4e28ba-2fa1-11d2-883f-0016d3cca427' })),
    '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
  );
  assert.throws(
    () => idempotencyKeyOf(request({})),
    (e) => isDeliveryError(e, 'DELIVERY_IDEMPOTENCY_KEY_REQUIRED'),
  );
  for (const bad of ['short', 'with space', 'ümlaut-key', 'x'.repeat(129)]) {
    assert.throws(
      () => idempotencyKeyOf(request({ 'idempotency-key': bad })),
      (e) => isDeliveryError(e, 'DELIVERY_INVALID_IDEMPOTENCY_KEY'),
      bad,
    );
  }
  assert.throws(
    () => idempotencyKeyOf(request({ 'idempotency-key': ['aaaaaaaa', 'bbbbbbbb'] })),
    (e) => isDeliveryError(e, 'DELIVERY_INVALID_IDEMPOTENCY_KEY'),
  );
});

it('treats localhost and 127.0.0.1 on the same port and scheme as the same site, nothing else', () => {
  assert.equal(isLoopbackOrigin('http://localhost:7071', 'http://127.0.0.1:7071'), true);
  assert.equal(isLoopbackOrigin('http://localhost:7072', 'http://127.0.0.1:7071'), false);
  assert.equal(isLoopbackOrigin('https://localhost:7071', 'http://127.0.0.1:7071'), false);
  assert.equal(isLoopbackOrigin('http://evil.example:7071', 'http://127.0.0.1:7071'), false);
  assert.equal(isLoopbackOrigin('null', 'http://127.0.0.1:7071'), false);
});
