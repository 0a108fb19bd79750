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

export interface LiveHandlers {
  onStatus(status: LiveStatus): void;
  onLocation(at: LatLng, timestamp: string): void;
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
    connection.on('location', (l: { lat?: unknown; longitude?: unknown; timestamp?: unknown }) => {
      if (typeof l?.lat !== 'number' || typeof l.longitude !== 'number') return;
      on().onLocation({ lat: l.lat, lng: l.longitude }, typeof l.timestamp === 'string' ? l.timestamp : '');
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
