// Tracking links: the credential a customer holds for one order until sign-in exists. A token names
// the order and an expiry and is signed with the app's TrackingKey (HMAC-SHA256), so an order id
// alone — sequential in the demo — grants nothing.
//
//   <base64url {"o":"1001","exp":1767225600}>.<base64url HMAC-SHA256(key, first part)>
const { createHmac, timingSafeEqual } = require('node:crypto');

const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_TOKEN_LENGTH = 512;

function sign(part, key) {
  return createHmac('sha256', key).update(part).digest('base64url');
}

/** A token for `orderId`, valid for `ttlSeconds` from `nowMs`. */
function createTrackingToken(orderId, key, { ttlSeconds = 86_400, nowMs = Date.now() } = {}) {
  if (!ORDER_ID.test(orderId)) throw new Error('orderId must be 1-64 letters, digits, "-" or "_"');
  if (typeof key !== 'string' || key.length < 16) throw new Error('the tracking key must be at least 16 characters');
  const part = Buffer.from(JSON.stringify({ o: orderId, exp: Math.floor(nowMs / 1000) + ttlSeconds })).toString(
    'base64url',
  );
  return `${part}.${sign(part, key)}`;
}

/**
 * The order id a token grants, or a reason it grants nothing: 'malformed', 'signature', 'expired'.
 * Returns `{ orderId }` or `{ error }`; never throws on hostile input.
 */
function verifyTrackingToken(token, key, nowMs = Date.now()) {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return { error: 'malformed' };
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return { error: 'malformed' };
  const part = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = Buffer.from(sign(part, key), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { error: 'signature' };
  let claims;
  try {
    claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return { error: 'malformed' };
  }
  if (typeof claims !== 'object' || claims === null || !ORDER_ID.test(String(claims.o))) return { error: 'malformed' };
  if (!Number.isFinite(claims.exp) || claims.exp * 1000 <= nowMs) return { error: 'expired' };
  return { orderId: claims.o };
}

module.exports = { ORDER_ID, createTrackingToken, verifyTrackingToken };
