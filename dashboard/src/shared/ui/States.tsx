import type { ReactNode } from 'react';
import { ApiError } from '../api/http';

/** An error as a user reads it: the problem's title and detail, never a stack. */
export function ErrorBanner({ error, onRetry }: { error: Error | undefined; onRetry?: () => void }) {
  if (!error) return null;
  const problem = error instanceof ApiError ? error.problem : undefined;
  return (
    <div role="alert" className="error-banner">
      <strong>{problem?.title ?? 'Something went wrong'}</strong>
      {problem?.status ? <span className="muted"> (HTTP {problem.status})</span> : null}
      <div>{problem?.detail ?? error.message}</div>
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}
