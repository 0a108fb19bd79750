/** The account: who is signed in, notifications on this device, sign out. */
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { pushModule } from '../push.ts';
import { navigate } from '../router.ts';
import { useSession } from '../session.ts';
import { PushOptIn } from './push-opt-in.tsx';

export function AccountView() {
  const { account, setAccount } = useSession();
  const [busy, setBusy] = useState(false);
  if (!account) return null;
  const signOut = async () => {
    setBusy(true);
    // The installation goes first: after sign-out this browser must not get this account's pushes.
    await pushModule()
      .then((p) => (p.pushSupported() ? p.disablePush() : undefined))
      .catch(() => {});
    await api.signOut().catch(() => {});
    setAccount(null);
    navigate('/');
  };
  return (
    <section class="narrow stack">
      <div class="card">
        <h1>{account.name}</h1>
        <p class="muted">{account.email}</p>
        <button class="button wide" type="button" disabled={busy} onClick={signOut}>
          Sign out
        </button>
      </div>
      {account.role === 'customer' && <PushOptIn offer />}
    </section>
  );
}
