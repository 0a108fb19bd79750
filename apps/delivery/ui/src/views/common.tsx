/** Small pieces every view uses. */
import type { Account, ApiError, OrderStatus } from '../api.ts';
import { STATUS_LABEL } from '../format.ts';
import { homeOf, href } from '../router.ts';

export function Loading() {
  return (
    <div class="loading" role="status">
      <span class="spinner" aria-hidden="true" />
      Loading…
    </div>
  );
}

export function ErrorNote({ error }: { error: ApiError }) {
  return (
    <p class="form-error" role="alert" data-code={error.code}>
      {error.message}
    </p>
  );
}

export function StatusBadge({ status }: { status: OrderStatus }) {
  return (
    <span class={`badge status-${status}`} data-status={status}>
      {STATUS_LABEL[status]}
    </span>
  );
}

const ROLE_NAME: Record<Account['role'], string> = {
  customer: 'a customer',
  restaurant: 'a restaurant',
  courier: 'a courier',
  operator: 'an operator',
};

/**
 * A staff view opened by an account it is not for: the server refused the data (`error`, 403 or
 * 404) or the account has no such view at all.
 */
export function NotForYou({ view, account, error }: { view: string; account: Account; error?: ApiError | null }) {
  return (
    <section class="empty-state refused" data-code={error?.code ?? 'DELIVERY_FORBIDDEN'}>
      <span class="refused-mark" aria-hidden="true">
        !
      </span>
      <h1>The {view} is not for this account</h1>
      <p class="muted">
        You are signed in as {account.name}, {ROLE_NAME[account.role]}.{' '}
        {error?.code === 'DELIVERY_NOT_FOUND'
          ? 'This board belongs to someone else.'
          : `Sign in with ${view === 'operations board' ? 'an operator' : `a ${view.split(' ')[0]}`} account to use it.`}
      </p>
      <a class="button primary" href={href(homeOf(account))}>
        Go to your page
      </a>
    </section>
  );
}
