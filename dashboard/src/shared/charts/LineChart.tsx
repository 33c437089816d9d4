import { extent, linearScale, logScale } from './scale';
import { si, tickLabels } from '../format';

export interface Series {
  key: string;
  label: string;
  color: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
  /** A shaded range around the line (e.g. min-max over seeds). */
  band?: { x: number; lo: number; hi: number }[];
}

export interface LineChartProps {
  title: string;
  series: Series[];
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  width?: number;
  height?: number;
  markers?: boolean;
}

const M = { top: 12, right: 16, bottom: 40, left: 60 };

/** Overlaid series as SVG paths; one <path> per series keeps thousands of points cheap to draw. */
export function LineChart({ title, series, xLabel, yLabel, xLog, yLog, width = 640, height = 300, markers }: LineChartProps) {
  const all = series.flatMap((s) => [...s.points, ...(s.band ?? []).flatMap((b) => [{ x: b.x, y: b.lo }, { x: b.x, y: b.hi }])]);
  const xs = all.map((p) => p.x).filter((v) => !xLog || v > 0);
  const ys = all.map((p) => p.y).filter((v) => !yLog || v > 0);
  if (xs.length === 0 || ys.length === 0) {
    return (
      <figure className="chart" aria-label={title}>
        <figcaption>{title}</figcaption>
        <p className="empty">No data yet.</p>
      </figure>
    );
  }
  const innerW = width - M.left - M.right;
  const innerH = height - M.top - M.bottom;
  const x = xLog ? logScale(extent(xs), [0, innerW]) : linearScale(extent(xs), [0, innerW]);
  const y = yLog ? logScale(extent(ys), [innerH, 0]) : linearScale(extent(ys), [innerH, 0]);
  const xLabels = tickLabels(x.ticks);
  const yLabels = tickLabels(y.ticks);
  return (
    <figure className="chart" data-testid={`chart-${title}`}>
      <figcaption>{title}</figcaption>
      <svg role="img" aria-label={`${title}: ${series.map((s) => s.label).join(', ')}`} viewBox={`0 0 ${width} ${height}`} width="100%" style={{ maxWidth: width }}>
        <g transform={`translate(${M.left},${M.top})`}>
          {y.ticks.map((t, i) => (
            <g key={`y${t}`} transform={`translate(0,${y(t)})`}>
              <line x2={innerW} stroke="#e3e3e3" />
              <text x={-6} dy="0.32em" textAnchor="end" className="tick">
                {yLabels[i]}
              </text>
            </g>
          ))}
          {x.ticks.map((t, i) => (
            <g key={`x${t}`} transform={`translate(${x(t)},${innerH})`}>
              <line y2={5} stroke="#555" />
              <text y={18} textAnchor="middle" className="tick">
                {xLabels[i]}
              </text>
            </g>
          ))}
          <line y1={innerH} x2={innerW} y2={innerH} stroke="#555" />
          {series.map((s) => {
            const pts = s.points.filter((p) => Number.isFinite(p.y) && (!xLog || p.x > 0) && (!yLog || p.y > 0));
            const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join('');
            const band = (s.band ?? []).filter((b) => Number.isFinite(b.lo) && Number.isFinite(b.hi) && (!xLog || b.x > 0) && (!yLog || b.lo > 0));
            const area =
              band.length > 1
                ? `M${band.map((b) => `${x(b.x).toFixed(1)},${y(b.hi).toFixed(1)}`).join('L')}L${[...band]
                    .reverse()
                    .map((b) => `${x(b.x).toFixed(1)},${y(b.lo).toFixed(1)}`)
                    .join('L')}Z`
                : '';
            return (
              <g key={s.key} className="series" data-series={s.label}>
                {area ? <path className="band" d={area} fill={s.color} fillOpacity={0.15} stroke="none" /> : null}
                <path className="line" d={d} fill="none" stroke={s.color} strokeWidth={2} strokeDasharray={s.dashed ? '5 4' : undefined} />
                {markers
                  ? pts.map((p) => (
                      <circle key={`${p.x}`} cx={x(p.x)} cy={y(p.y)} r={3} fill={s.color}>
                        <title>{`${s.label}: ${si(p.x)} → ${si(p.y)}`}</title>
                      </circle>
                    ))
                  : null}
              </g>
            );
          })}
          <text x={innerW / 2} y={innerH + 34} textAnchor="middle" className="axis-label">
            {xLabel}
          </text>
          <text transform={`translate(${-46},${innerH / 2}) rotate(-90)`} textAnchor="middle" className="axis-label">
            {yLabel}
          </text>
        </g>
      </svg>
      <ul className="legend">
        {series.map((s) => (
          <li key={s.key}>
            <span className="swatch" style={{ background: s.color }} aria-hidden="true" />
            {s.label}
          </li>
        ))}
      </ul>
    </figure>
  );
}
