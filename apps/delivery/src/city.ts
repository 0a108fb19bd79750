/**
 * The demo city the tracking page draws and the simulator drives: streets, parks, stores and the
 * demo orders with their courier routes (`web/city.json`, shared with the page as it is).
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '@hubbub/kernel';
import type { CourierRoute, LatLng } from './simulator.ts';

export interface City {
  name: string;
  bounds: { south: number; west: number; north: number; east: number };
  streets: Array<{ name: string; major?: boolean; path: LatLng[] }>;
  parks: Array<{ name: string; path: LatLng[] }>;
  stores: Array<{ storeid: number; name: string; at: LatLng }>;
  orders: Array<{
    orderid: string;
    storeid: number;
    courierid: string;
    customer: { name: string; at: LatLng };
    route: LatLng[];
  }>;
}

export const cityFile = join(packageRoot(import.meta.url), 'web/city.json');

export function loadCity(file = cityFile): City {
  return JSON.parse(readFileSync(file, 'utf8')) as City;
}

/** One courier route per demo order. */
export function cityRoutes(city: City = loadCity()): CourierRoute[] {
  return city.orders.map((o) => ({ orderid: o.orderid, storeid: o.storeid, courierid: o.courierid, path: o.route }));
}
