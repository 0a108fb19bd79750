/**
 * User group memberships (`groups.addUser`, what a negotiate function grants through the SignalR
 * output binding) end: after a TTL on the hub's clock, and beyond a bound the oldest is dropped.
 * Connections that joined keep the group while they live.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, silentLogger } from '@hubbub/kernel';
import { HubConnection } from '../src/connection.ts';
import { createInProcessBackplane, Hub } from '../src/index.ts';

const ttl = 60_000;

function setup(options: { max?: number } = {}) {
  const clock = new ManualClock();
  const backplane = createInProcessBackplane();
  const hub = new Hub({
    name: 'tracking',
    backplane,
    limits: { maxMessageBytes: 32_768, maxBufferedBytes: 1_048_576, statefulBufferBytes: 1_048_576 },
    logger: silentLogger,
    detailedErrors: false,
    tick: () => 0,
    released: () => {},
    clock,
    userGroupTtlMs: ttl,
    maxUserGroupMemberships: options.max ?? 1_000,
  });
  backplane.subscribe((message) => hub.apply(message));
  let next = 0;
  /** A connection of `userId` that has completed its handshake. */
  const connect = (userId: string) => {
    const id = `c${++next}`;
    const connection = new HubConnection(hub, {
      connectionId: id,
      connectionToken: id,
      principal: { userId, claims: {} },
      stateful: false,
    });
    hub.connected(connection);
    return connection;
  };
  return { clock, hub, connect };
}

describe('user group memberships', () => {
  it('end after the TTL when the user never connects', async () => {
    const { clock, hub, connect } = setup();
    await hub.groups.addUser('customer-1', 'order-1');
    assert.equal(hub.userGroupMembershipCount, 1);
    clock.advance(ttl - 1);
    assert.equal(hub.isUserInGroup('customer-1', 'order-1'), true);
    clock.advance(1);
    assert.equal(hub.userGroupMembershipCount, 0);
    assert.equal(hub.isUserInGroup('customer-1', 'order-1'), false);
    const late = connect('customer-1');
    assert.deepEqual([...late.groups], []);
  });

  it('are renewed by granting them again', async () => {
    const { clock, hub } = setup();
    await hub.groups.addUser('customer-1', 'order-1');
    clock.advance(ttl - 1_000);
    await hub.groups.addUser('customer-1', 'order-1');
    clock.advance(ttl - 1_000);
    assert.equal(hub.isUserInGroup('customer-1', 'order-1'), true);
    assert.equal(hub.userGroupMembershipCount, 1);
  });

  it('keep working for a connected user, and run out a TTL after their last connection ends', async () => {
    const { clock, hub, connect } = setup();
    const first = connect('customer-1');
    await hub.groups.addUser('customer-1', 'order-1');
    assert.deepEqual([...first.groups], ['order-1']);
    clock.advance(3 * ttl); // a long session
    assert.equal(hub.userGroupMembershipCount, 1);
    const second = connect('customer-1'); // e.g. a second tab, or a reconnect
    assert.deepEqual([...second.groups], ['order-1']);
    hub.closed(first, undefined);
    hub.closed(second, undefined);
    clock.advance(ttl - 1);
    const third = connect('customer-1');
    assert.deepEqual([...third.groups], ['order-1'], 'the TTL counts from the last disconnect');
    hub.closed(third, undefined);
    clock.advance(ttl);
    assert.equal(hub.userGroupMembershipCount, 0);
    assert.deepEqual([...connect('customer-1').groups], []);
  });

  it('are bounded: past the bound the oldest is dropped, and connections keep the group they joined', async () => {
    const { hub, connect } = setup({ max: 100 });
    const live = connect('customer-0');
    await hub.groups.addUser('customer-0', 'order-0');
    // what a stream of negotiates for orders nobody watches does
    for (let i = 1; i <= 1_000; i++) await hub.groups.addUser(`customer-${i}`, `order-${i}`);
    assert.equal(hub.userGroupMembershipCount, 100);
    assert.equal(hub.isUserInGroup('customer-1', 'order-1'), false, 'the oldest went first');
    assert.equal(hub.isUserInGroup('customer-1000', 'order-1000'), true);
    assert.deepEqual([...live.groups], ['order-0'], 'a live connection stays in its group');
    assert.equal(hub.hasGroup('order-0'), true);
    assert.equal(hub.isUserInGroup('customer-0', 'order-0'), true);
  });

  it('are removed by removeUser and removeUserFromAll', async () => {
    const { hub } = setup();
    await hub.groups.addUser('customer-1', 'order-1');
    await hub.groups.addUser('customer-1', 'order-2');
    await hub.groups.addUser('customer-2', 'order-1');
    await hub.groups.removeUser('customer-1', 'order-1');
    assert.equal(hub.userGroupMembershipCount, 2);
    await hub.groups.removeUserFromAll('customer-1');
    assert.equal(hub.userGroupMembershipCount, 1);
    assert.equal(hub.isUserInGroup('customer-2', 'order-1'), true);
  });
});
