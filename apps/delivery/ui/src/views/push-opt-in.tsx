/** "Notify me": turns Web Push on for this browser through the site's push.js. */
import { useEffect, useState } from 'preact/hooks';
import { pushModule } from '../push.ts';

type State = 'checking' | 'unsupported' | 'off' | 'on' | 'busy' | 'denied' | 'failed';

/** `offer`: also offer to turn them off (the account page). */
export function PushOptIn({ offer = false }: { offer?: boolean }) {
  const [state, setState] = useState<State>('checking');
  const [message, setMessage] = useState('');
  useEffect(() => {
    pushModule()
      .then(async (push) => {
        if (!push.pushSupported()) return setState('unsupported');
        setState((await push.pushInstallation()) === null ? 'off' : 'on');
      })
      .catch(() => setState('unsupported'));
  }, []);
  if (state === 'unsupported' || state === 'checking') return null;
  const enable = async () => {
    setState('busy');
    try {
      await (await pushModule()).enablePush();
      setState('on');
    } catch (err) {
      const code = (err as { code?: string }).code;
      setMessage(err instanceof Error ? err.message : String(err));
      setState(code === 'denied' ? 'denied' : 'failed');
    }
  };
  const disable = async () => {
    setState('busy');
    try {
      await (await pushModule()).disablePush();
      setState('off');
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err));
      setState('failed');
    }
  };
  return (
    <div class="card push-card" data-state={state}>
      <h2>Updates on this device</h2>
      {state === 'on' ? (
        <>
          <p class="muted">
            You'll get a notification when your order is accepted, picked up, about to arrive and delivered.
          </p>
          {offer && (
            <button class="button wide" type="button" onClick={disable}>
              Turn off
            </button>
          )}
        </>
      ) : (
        <>
          <p class="muted">Get a notification when your order moves, even with this page closed.</p>
          {message !== '' && <p class="form-error">{message}</p>}
          <button class="button wide" type="button" disabled={state === 'busy'} onClick={enable}>
            {state === 'busy' ? 'Turning on…' : 'Notify me'}
          </button>
        </>
      )}
    </div>
  );
}
