/** Who is signed in: read once from `GET /api/v1/account`, set by sign-in/up, cleared by sign-out. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Account } from './api.ts';

export interface SessionState {
  /** undefined while loading, null when signed out. */
  account: Account | null | undefined;
  setAccount(account: Account | null): void;
}

export const Session = createContext<SessionState>({ account: undefined, setAccount() {} });

export const useSession = (): SessionState => useContext(Session);
