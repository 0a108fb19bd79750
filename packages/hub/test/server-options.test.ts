/** The hub server hands its clock and per-hub limits to every hub it creates. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { createHubServer } from '../src/index.ts';

it('user group memberships of a server-made hub follow the server’s clock, TTL and bound', async () => {
  const clock = new ManualClock();
  await using server = createHubServer({ clock, userGroupTtlMs: 60_000, maxUserGroupMemberships: 2 });
  const hub = server.hub('tracking');
  for (const user of ['a', 'b', 'c']) await hub.groups.addUser(user, `order-${user}`);
  await waitFor(() => hub.userGroupMembershipCount === 2, { what: 'the bound of 2 memberships' });
  clock.advance(60_001);
  await waitFor(() => hub.userGroupMembershipCount === 0, { what: 'memberships to expire on the manual clock' });
});

it('the factory starts nothing: the housekeeping loop begins with start(), once', async () => {
  const clock = new ManualClock();
  await using server = createHubServer({ clock });
  server.hub('chat');
  assert.equal(clock.pending, 0, 'no timer before start()');
  await server.start();
  await server.start();
  assert.equal(clock.pending, 1, 'one housekeeping timer');
  clock.advance(60_000);
  assert.equal(clock.pending, 1, 'it reschedules itself');
  await server.close();
  clock.advance(60_000);
  assert.equal(clock.pending, 0, 'and stops on close');
});
