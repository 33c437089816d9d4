export function StatusBadge({ status }: { status: string | undefined }) {
  const s = (status ?? 'UNKNOWN').toUpperCase();
  return (
    <span className={`badge badge-${s.toLowerCase()}`} data-status={s}>
      {s}
    </span>
  );
}
