/**
 * Demo accounts for `npm start`: a customer, one account per demo restaurant, a courier and an
 * operator, all with the one demo password kept in the data directory's keys.json (so it is
 * random per installation, printed at start, and the same after a restart). Existing accounts are
 * left as they are.
 * @module
 */

import { systemClock } from '@hubbub/kernel';
import type { Store } from '@hubbub/store';
import { accountIdOf, createAccounts } from './accounts.ts';
import { isDeliveryError } from './errors.ts';
import { demoRestaurants } from './restaurants.ts';
import type { Role } from './rules.ts';

export interface DemoAccount {
  readonly email: string;
  readonly role: Role;
  readonly name: string;
  readonly restaurantId?: string;
}

export function demoAccounts(): DemoAccount[] {
  return [
    { email: 'customer@example.com', role: 'customer', name: 'Casey Customer' },
    ...demoRestaurants().map((r) => ({
      email: `${r.id}@example.com`,
      role: 'restaurant' as const,
      name: r.name,
      restaurantId: r.id,
    })),
    { email: 'courier@example.com', role: 'courier', name: 'Ana Courier' },
    { email: 'operator@example.com', role: 'operator', name: 'Olu Operator' },
  ];
}

/** Creates the demo accounts that are missing (the API part must have started: the containers exist). */
export async function seedDemoAccounts(store: Store, password: string, database = 'delivery'): Promise<DemoAccount[]> {
  const db = store.database(database);
  const accounts = createAccounts({
    accounts: db.container('accounts'),
    sessions: db.container('sessions'),
    clock: systemClock,
    sessionTtlSeconds: 1,
  });
  const all = demoAccounts();
  for (const account of all) {
    if ((await accounts.read(accountIdOf(account.email))) !== undefined) continue;
    try {
      await accounts.create({ ...account, password });
    } catch (err) {
      if (!isDeliveryError(err, 'DELIVERY_EMAIL_TAKEN')) throw err;
    }
  }
  return all;
}
