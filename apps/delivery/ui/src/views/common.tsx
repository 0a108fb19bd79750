/** Small pieces every view uses. */
import type { ApiError, OrderStatus } from '../api.ts';
import { STATUS_LABEL } from '../format.ts';

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
