/** scrypt password hashes: the stored form, verification, and hashes that must not verify. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hashPassword, verifyPassword } from './passwords.ts';

it('hashes with a fresh salt and the parameters, and verifies only the password', async () => {
  const a = await hashPassword('correct horse battery');
  const b = await hashPassword('correct horse battery');
  assert.match(a, /^scrypt\$15\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b, 'each hash has its own salt');
  assert.equal(await verifyPassword('correct horse battery', a), true);
  assert.equal(await verifyPassword('correct horse batterY', a), false);
  assert.equal(await verifyPassword('', a), false);
});

it('refuses malformed hashes and parameters out of bounds instead of computing them', async () => {
  const good = await hashPassword('pw-12345678', { logN: 10, r: 8, p: 1 });
  assert.equal(await verifyPassword('pw-12345678', good), true, 'parameters are read from the hash');
  const [, , r, p, salt, key] = good.split('$');
  for (const bad of [
    '',
    'bcrypt$10$x',
    `scrypt$30$${r}$${p}$${salt}$${key}`,
    `scrypt$15.5$${r}$${p}$${salt}$${key}`,
    `scrypt$10$${r}$${p}$${salt}$${key!.slice(0, 10)}`,
    `scrypt$10$99$${p}$${salt}$${key}`,
  ]) {
    assert.equal(await verifyPassword('pw-12345678', bad), false, bad);
  }
});
