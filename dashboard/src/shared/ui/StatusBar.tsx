// A run-status breakdown as one stacked bar with its numbers spelled out beside it for screen readers.

const ORDER = ['succeeded', 'running', 'dispatched', 'retrying', 'queued', 'failed', 'cancelled'] as const;
const COLORS: Record<(typeof ORDER)[number], string> = {
  succeeded: '#1a7f37',
  running: '#0b5cad',
  dispatched: '#54aeff',
  retrying: '#9a6700',
  queued: '#8c959f',
  failed: '#b3261e',
  cancelled: '#d4a72c',
};

export function StatusBar({ counts }: { counts: Partial<Record<string, number>> | undefined }) {
  if (!counts) return null;
  const parts = ORDER.map((s) => [s, Number(counts[s] ?? 0)] as const).filter(([, n]) => n > 0);
  const total = parts.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return <span className="muted">no runs</span>;
  const text = parts.map(([s, n]) => `${n} ${s}`).join(', ');
  return (
    <span className="status-bar" title={text}>
      <span className="bar" aria-hidden="true">
        {parts.map(([s, n]) => (
          <span key={s} style={{ width: `${(100 * n) / total}%`, background: COLORS[s] }} />
        ))}
      </span>
      <span className="status-text">{text}</span>
    </span>
  );
}
