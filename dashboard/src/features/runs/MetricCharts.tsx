import { LineChart } from '../../shared/charts/LineChart';
import { colorFor } from '../../shared/charts/palette';
import type { MetricPoint } from '../../shared/api/types';

/** The losses lead (train, then validation); every other metric follows alphabetically. */
const LEADING = ['train/loss', 'val/loss'];
function metricRank(name: string): number {
  const i = LEADING.indexOf(name);
  return i < 0 ? LEADING.length : i;
}

/** One small chart per metric of a run, x = step. */
export function MetricCharts({ series }: { series: Record<string, MetricPoint[]> }) {
  const names = Object.keys(series)
    .filter((n) => series[n].length > 0)
    .sort((a, b) => metricRank(a) - metricRank(b) || a.localeCompare(b));
  if (names.length === 0) return <p className="empty">No metrics recorded yet.</p>;
  return (
    <div className="chart-grid">
      {names.map((name, i) => (
        <LineChart
          key={name}
          title={name}
          xLabel="step"
          yLabel={name}
          width={480}
          height={240}
          series={[{ key: name, label: name, color: colorFor(i), points: series[name].map((p) => ({ x: p.step, y: p.value })) }]}
          markers={series[name].length <= 30}
        />
      ))}
    </div>
  );
}
