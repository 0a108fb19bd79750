/**
 * Where an entity lives in JetStream. Every queue and subscription has a main stream (work-queue
 * retention: its active messages on `<ns>.<id>.m`, one subject per session `<ns>.<id>.s.<sid>`,
 * scheduled messages on `<ns>.<id>.sch.<n>`) and a side stream (its dead-letter queue on
 * `<ns>x.<id>.dlq`, deferred messages on `<ns>x.<id>.d.<seq>`); a topic has one limits stream
 * holding one marker per send (its sequence number and duplicate detection) and its scheduled
 * messages. `<id>` is a hash of the entity's lower-case path, so paths of any spelling map to
 * valid stream names and subjects.
 * @module
 */
import { createHash } from 'node:crypto';

export interface EntityNames {
  /** Main stream: active, session and scheduled messages (a topic's markers and schedules). */
  readonly stream: string;
  /** Side stream: dead-letter queue and deferred messages. */
  readonly side: string;
  readonly active: string;
  readonly scheduled: (n: string) => string;
  readonly session: (sessionId: string) => string;
  readonly sessions: string;
  readonly marker: string;
  readonly deadLetter: string;
  readonly deferred: (seq: number) => string;
  /** Every subject of the main stream / side stream. */
  readonly all: string;
  readonly sideAll: string;
}

export function entityId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 24);
}

/** Session ids are any string up to 128 characters; subjects get them as base64url. */
export const encodeToken = (s: string): string => Buffer.from(s, 'utf8').toString('base64url') || '_';
export const decodeToken = (s: string): string => (s === '_' ? '' : Buffer.from(s, 'base64url').toString('utf8'));

export function entityNames(namespace: string, key: string): EntityNames {
  const id = entityId(key);
  const base = `${namespace}.${id}`;
  const side = `${namespace}x.${id}`;
  const streamBase = `${namespace.replaceAll('.', '_')}_${id}`;
  return {
    stream: streamBase,
    side: `${streamBase}_x`,
    active: `${base}.m`,
    scheduled: (n) => `${base}.sch.${n}`,
    session: (sid) => `${base}.s.${encodeToken(sid)}`,
    sessions: `${base}.s.*`,
    marker: `${base}.t`,
    deadLetter: `${side}.dlq`,
    deferred: (seq) => `${side}.d.${seq}`,
    all: `${base}.>`,
    sideAll: `${side}.>`,
  };
}
