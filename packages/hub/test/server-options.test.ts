/** The hub server hands its clock and per-hub limits to every hub it creates. */
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
