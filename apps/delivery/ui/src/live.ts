/**
 * An order, live: the official SignalR client connects through the order's negotiate
 * (`/api/v1/orders/<id>/negotiate`, the session cookie going along), which grants this account the
 * order's group; the group carries `orderStatus` at each status change and the courier's
 * `location`s. The order is read after the connection is up, so a change between the two is in one
 * or the other (the hub's messages are at most once).
 */
import { HubConnectionBuilder, HubConnectionState, LogLevel } from '@microsoft/signalr';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { LatLng, OrderStatus } from './api.ts';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface LiveStatus {
  orderId: string;
  status: OrderStatus;
  at: string;
  reason: string | null;
}

/** The server's arrival estimate on a location (whole metres and seconds left; seconds null until it knows the speed). */
export interface LiveEta {
  meters: number;
  seconds: number | null;
}

const etaOf = (e: unknown): LiveEta | null => {
  if (typeof e !== 'object' || e === null) return null;
  const { meters, seconds } = e as { meters?: unknown; seconds?: unknown };
  if (typeof meters !== 'number' || !Number.isFinite(meters)) return null;
  if (seconds !== null && (typeof seconds !== 'number' || !Number.isFinite(seconds))) return null;
  return { meters, seconds: seconds as number | null };
};

export interface LiveHandlers {
  onStatus(status: LiveStatus): void;
  /** A courier position, with the server's estimate once the order is picked up (null without one). */
  onLocation(at: LatLng, timestamp: string, eta: LiveEta | null): void;
  /** After each (re)connection: read the order again. */
  onConnected(): void;
}

export function useLiveOrder(orderId: string, enabled: boolean, handlers: LiveHandlers): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const latest = useRef(handlers);
  latest.current = handlers;
  const on = () => latest.current;
  useEffect(() => {
    if (!enabled) {
      setState('offline');
      return;
    }
    const connection = new HubConnectionBuilder()
      .withUrl(`/api/v1/orders/${encodeURIComponent(orderId)}`, { withCredentials: true })
      .withAutomaticReconnect()
      .configureLogging(LogLevel.Warning)
      .build();
    connection.on('orderStatus', (s: LiveStatus) => {
      if (s !== null && typeof s === 'object' && s.orderId === orderId) on().onStatus(s);
    });
    connection.on('location', (l: { lat?: unknown; longitude?: unknown; timestamp?: unknown; eta?: unknown }) => {
      if (typeof l?.lat !== 'number' || typeof l.longitude !== 'number') return;
      on().onLocation(
        { lat: l.lat, lng: l.longitude },
        typeof l.timestamp === 'string' ? l.timestamp : '',
        etaOf(l.eta),
      );
    });
    connection.onreconnecting(() => setState('reconnecting'));
    connection.onreconnected(() => {
      setState('live');
      on().onConnected();
    });
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    // A just-placed order is not written for a moment (its negotiate answers 404): try again soon, then every 5 s.
    const later = () => {
      if (stopped) return;
      failures += 1;
      setState(failures > 2 ? 'offline' : 'connecting');
      retry = setTimeout(start, Math.min(5000, 250 * 2 ** failures));
    };
    const start = async () => {
      try {
        if (failures > 2) setState('connecting');
        await connection.start();
        failures = 0;
        setState('live');
        on().onConnected();
      } catch {
        later();
      }
    };
    connection.onclose(later);
    void start();
    return () => {
      stopped = true;
      clearTimeout(retry);
      if (connection.state !== HubConnectionState.Disconnected) void connection.stop();
    };
  }, [orderId, enabled]);
  return state;
}

/** What a staff board hears: a status change, an assignment, a courier's position (operations). */
export type BoardEvent =
  | { kind: 'status'; orderId: string; status: OrderStatus }
  | { kind: 'assigned'; orderId: string; courierId: string | null }
  | { kind: 'location'; orderId: string; courierId: string | null; at: LatLng; timestamp: string };

/**
 * A staff board, live: the official client negotiates through `/api/v1/live/negotiate`, which
 * adds this account to its board's group (its restaurant's, the couriers', operations) — a
 * customer is refused there. `onConnected` runs after each (re)connection: read the board again.
 */
export function useLiveBoard(enabled: boolean, onEvent: (e: BoardEvent) => void, onConnected: () => void): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const latest = useRef({ onEvent, onConnected });
  latest.current = { onEvent, onConnected };
  useEffect(() => {
    if (!enabled) {
      setState('offline');
      return;
    }
    const connection = new HubConnectionBuilder()
      .withUrl('/api/v1/live', { withCredentials: true })
      .withAutomaticReconnect()
      .configureLogging(LogLevel.Warning)
      .build();
    const isId = (v: unknown): v is string => typeof v === 'string' && v !== '';
    connection.on('orderStatus', (s: { orderId?: unknown; status?: unknown }) => {
      if (isId(s?.orderId) && isId(s.status))
        latest.current.onEvent({ kind: 'status', orderId: s.orderId, status: s.status as OrderStatus });
    });
    connection.on('orderAssigned', (a: { orderId?: unknown; courierId?: unknown }) => {
      if (isId(a?.orderId))
        latest.current.onEvent({
          kind: 'assigned',
          orderId: a.orderId,
          courierId: isId(a.courierId) ? a.courierId : null,
        });
    });
    connection.on(
      'location',
      (l: { orderid?: unknown; courierid?: unknown; lat?: unknown; longitude?: unknown; timestamp?: unknown }) => {
        if (!isId(l?.orderid) || typeof l.lat !== 'number' || typeof l.longitude !== 'number') return;
        latest.current.onEvent({
          kind: 'location',
          orderId: l.orderid,
          courierId: isId(l.courierid) ? l.courierid : null,
          at: { lat: l.lat, lng: l.longitude },
          timestamp: typeof l.timestamp === 'string' ? l.timestamp : new Date().toISOString(),
        });
      },
    );
    connection.onreconnecting(() => setState('reconnecting'));
    connection.onreconnected(() => {
      setState('live');
      latest.current.onConnected();
    });
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    const later = () => {
      if (stopped) return;
      failures += 1;
      setState(failures > 2 ? 'offline' : 'connecting');
      retry = setTimeout(start, Math.min(5000, 250 * 2 ** failures));
    };
    let starting: Promise<void> | undefined;
    const start = () => {
      starting = connection.start().then(
        () => {
          if (stopped) return;
          failures = 0;
          setState('live');
          latest.current.onConnected();
        },
        () => later(),
      );
    };
    connection.onclose(later);
    start();
    return () => {
      stopped = true;
      clearTimeout(retry);
      // A connection still starting stops once it has: stopping it halfway is logged as an error.
      void starting?.then(() => {
        if (connection.state !== HubConnectionState.Disconnected) return connection.stop();
      });
    };
  }, [enabled]);
  return state;
}
