/**
 * The Notification Hubs REST resources under `/{hub}/`, the methods each takes and the right each
 * method needs. Reading installations, outcomes and registration lists needs `Manage` (the listen
 * key ships inside apps: it registers a device, it does not read other devices); creating,
 * updating and deleting an installation or registration needs `Listen`; sending and cancelling
 * need `Send`.
 * @module
 */
import { decodePathSegment } from '@hubbub/kernel';
import { PushError } from '../errors.ts';
import type { AccessRight } from './sas.ts';

export type Route =
  | { readonly kind: 'installation'; readonly id: string }
  | { readonly kind: 'messages' }
  | { readonly kind: 'batch' }
  | { readonly kind: 'message'; readonly id: string }
  | { readonly kind: 'schedule' }
  | { readonly kind: 'scheduled'; readonly id: string }
  | { readonly kind: 'registrationIds' }
  | { readonly kind: 'registrations' }
  | { readonly kind: 'registration'; readonly id: string }
  | { readonly kind: 'tagRegistrations'; readonly tag: string }
  | { readonly kind: 'feedback' };

export const rights: Record<Route['kind'], Readonly<Record<string, AccessRight>>> = {
  installation: { PUT: 'Listen', PATCH: 'Listen', DELETE: 'Listen', GET: 'Manage' },
  messages: { POST: 'Send' },
  batch: { POST: 'Send' },
  message: { GET: 'Manage' },
  schedule: { POST: 'Send' },
  scheduled: { DELETE: 'Send' },
  registrationIds: { POST: 'Listen' },
  registrations: { POST: 'Listen', GET: 'Manage' },
  registration: { PUT: 'Listen', DELETE: 'Listen', GET: 'Manage' },
  tagRegistrations: { GET: 'Manage' },
  feedback: { GET: 'Manage' },
};

/** The hub named by the path's first segment, and the route below it; undefined when no route matches. */
export function parseRoute(pathname: string): { hub: string; route: Route | undefined } {
  const raw = pathname.split('/').slice(1);
  const hub = decodePathSegment(raw[0] ?? '');
  const rest = raw.slice(1);
  const trailing = rest.length > 1 && rest[rest.length - 1] === '';
  if (trailing) rest.pop();
  if (rest.some((s) => s === '')) return { hub, route: undefined };
  const s = rest.map(decodePathSegment);
  return { hub, route: match(s) };
}

function match(s: string[]): Route | undefined {
  const [collection, id, sub] = s;
  const one = s.length === 1;
  const two = s.length === 2;
  switch (collection?.toLowerCase()) {
    case 'installations':
      return two ? { kind: 'installation', id: id! } : undefined;
    case 'messages':
      if (one) return { kind: 'messages' };
      if (two) return id === '$batch' ? { kind: 'batch' } : { kind: 'message', id: id! };
      return undefined;
    case 'schedulednotifications':
      if (one) return { kind: 'schedule' };
      return two ? { kind: 'scheduled', id: id! } : undefined;
    case 'registrationids':
      return one ? { kind: 'registrationIds' } : undefined;
    case 'registrations':
      if (one) return { kind: 'registrations' };
      return two ? { kind: 'registration', id: id! } : undefined;
    case 'tags':
      return s.length === 3 && sub?.toLowerCase() === 'registrations'
        ? { kind: 'tagRegistrations', tag: id! }
        : undefined;
    case 'feedbackcontainer':
      return one ? { kind: 'feedback' } : undefined;
    default:
      return undefined;
  }
}

/** An id from the path: 1–256 characters, none of them control characters. */
export function checkPathId(id: string, what: string): string {
  if (id.length === 0 || id.length > 256 || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new PushError(
      'PUSH_INVALID_REQUEST',
      `The ${what} in the path must be 1–256 characters, no control characters.`,
      {
        status: 400,
        detail: { field: what },
      },
    );
  }
  return id;
}
