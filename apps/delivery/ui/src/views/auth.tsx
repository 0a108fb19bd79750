/** Sign in and sign up: the session comes back as the HttpOnly cookie; the page keeps only the account. */
import { useState } from 'preact/hooks';
import { ApiError, api } from '../api.ts';
import { homeOf, href, navigate } from '../router.ts';
import { useSession } from '../session.ts';

export function AuthView({ mode, then }: { mode: 'sign-in' | 'sign-up'; then: string }) {
  const { setAccount } = useSession();
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const signUp = mode === 'sign-up';

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const email = String(form.get('email') ?? '').trim();
    const password = String(form.get('password') ?? '');
    setBusy(true);
    setError(null);
    try {
      const { account } = signUp
        ? await api.signUp({ email, password, name: String(form.get('name') ?? '').trim() })
        : await api.signIn({ email, password });
      setAccount(account);
      // Staff land on their view unless they were sent here from a page.
      navigate(then === '/' ? homeOf(account) : then);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError('UNKNOWN', 0, String(err)));
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (field: string) =>
    error?.field === field ? (
      <span class="field-error" role="alert">
        {error.message}
      </span>
    ) : null;
  const other = `${signUp ? '/sign-in' : '/sign-up'}?then=${encodeURIComponent(then)}`;
  return (
    <section class="auth">
      <div class="auth-card">
        <h1>{signUp ? 'Create your account' : 'Welcome back'}</h1>
        <p class="muted">
          {signUp ? 'Order from the neighbourhood in a few taps.' : 'Sign in to order and follow your deliveries.'}
        </p>
        <form onSubmit={submit} class="form">
          {signUp && (
            <label>
              Name
              <input name="name" autocomplete="name" required maxLength={100} />
              {fieldError('name')}
            </label>
          )}
          <label>
            Email
            <input name="email" type="email" autocomplete="email" required maxLength={254} />
            {fieldError('email')}
          </label>
          <label>
            Password
            <input
              name="password"
              type="password"
              autocomplete={signUp ? 'new-password' : 'current-password'}
              required
              minLength={signUp ? 8 : 1}
              maxLength={128}
            />
            {signUp && <span class="hint">At least 8 characters.</span>}
            {fieldError('password')}
          </label>
          {error !== null && error.field === undefined && (
            <p class="form-error" role="alert">
              {error.message}
            </p>
          )}
          <button class="button primary wide" type="submit" disabled={busy}>
            {busy ? 'One moment…' : signUp ? 'Create account' : 'Sign in'}
          </button>
        </form>
        <p class="switch">
          {signUp ? 'Already have an account? ' : 'New to Hubbub? '}
          <a href={href(other)}>{signUp ? 'Sign in' : 'Create an account'}</a>
        </p>
      </div>
    </section>
  );
}
