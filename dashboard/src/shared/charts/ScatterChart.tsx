import { extent, linearScale, logScale } from './scale';
import { si, tickLabels } from '../format';

export interface ScatterPoint {
  key: string;
  label: string;
  x: number;
  y: number;
  color: string;
  onFrontier?: boolean;
}

export interface ScatterChartProps {
  title: string;
  points: ScatterPoint[];
  frontier?: { x: number; y: number }[];
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  /** The y axis's extent when given (e.g. widened to a minimum span); else the points' own. */
  yDomain?: [number, number];
  width?: number;
  height?: number;
}

const M = { top: 12, right: 16, bottom: 40, left: 60 };

export function ScatterChart({ title, points, frontier = [], xLabel, yLabel, xLog, yDomain, width = 640, height = 300 }: ScatterChartProps) {
  const usable = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!xLog || p.x > 0));
  if (usable.length === 0) {
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="empty">No runs with both values yet.</p>
      </figure>
    );
  }
  const innerW = width - M.left - M.right;
  const innerH = height - M.top - M.bottom;
  const x = xLog ? logScale(extent(usable.map((p) => p.x)), [0, innerW]) : linearScale(extent(usable.map((p) => p.x)), [0, innerW]);
  const y = linearScale(yDomain ?? extent(usable.map((p) => p.y)), [innerH, 0]);
  const xLabels = tickLabels(x.ticks);
  const yLabels = tickLabels(y.ticks);
  const path = frontier.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join('');
  return (
    <figure className="chart" data-testid={`chart-${title}`}>
      <figcaption>{title}</figcaption>
      <svg role="img" aria-label={title} viewBox={`0 0 ${width} ${height}`} width="100%" style={{ maxWidth: width }}>
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
          {path ? <path d={path} fill="none" stroke="#333" strokeWidth={1.5} strokeDasharray="4 3" className="frontier" /> : null}
          {usable.map((p) => (
            <circle key={p.key} cx={x(p.x)} cy={y(p.y)} r={p.onFrontier ? 6 : 4} fill={p.color} stroke={p.onFrontier ? '#000' : 'none'}>
              <title>{`${p.label}: ${si(p.x)}, ${p.y.toFixed(4)}${p.onFrontier ? ' (on the frontier)' : ''}`}</title>
            </circle>
          ))}
          <text x={innerW / 2} y={innerH + 34} textAnchor="middle" className="axis-label">
            {xLabel}
          </text>
          <text transform={`translate(${-46},${innerH / 2}) rotate(-90)`} textAnchor="middle" className="axis-label">
            {yLabel}
          </text>
        </g>
      </svg>
    </figure>
  );
}
