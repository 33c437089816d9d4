export interface PagerProps {
  page: number;
  size: number;
  total: number;
  onPage: (page: number) => void;
  onSize?: (size: number) => void;
}

export function Pager({ page, size, total, onPage, onSize }: PagerProps) {
  const pages = Math.max(1, Math.ceil(total / Math.max(1, size)));
  const from = total === 0 ? 0 : page * size + 1;
  const to = Math.min(total, (page + 1) * size);
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" onClick={() => onPage(0)} disabled={page <= 0} aria-label="First page">
        «
      </button>
      <button type="button" onClick={() => onPage(page - 1)} disabled={page <= 0} aria-label="Previous page">
        ‹
      </button>
      <span aria-live="polite">
        {from}–{to} of {total} (page {page + 1} of {pages})
      </span>
      <button type="button" onClick={() => onPage(page + 1)} disabled={page + 1 >= pages} aria-label="Next page">
        ›
      </button>
      <button type="button" onClick={() => onPage(pages - 1)} disabled={page + 1 >= pages} aria-label="Last page">
        »
      </button>
      {onSize ? (
        <label>
          Rows{' '}
          <select value={size} onChange={(e) => onSize(Number(e.target.value))}>
            {[25, 50, 100, 200].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      ) : null}
    </nav>
  );
}
