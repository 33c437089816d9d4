import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { LineChart } from './LineChart';
import { ScatterChart } from './ScatterChart';

describe('LineChart', () => {
  it('draws one path per series through every point', () => {
    const { container } = render(
      <LineChart
        title="loss"
        xLabel="step"
        yLabel="loss"
        series={[
          { key: 'a', label: 'MHA', color: '#000', points: [{ x: 0, y: 1 }, { x: 10, y: 0.5 }, { x: 20, y: 0.25 }] },
          { key: 'b', label: 'GQA', color: '#111', points: [{ x: 0, y: 2 }] },
        ]}
      />,
    );
    const paths = container.querySelectorAll('g.series path');
    expect(paths).toHaveLength(2);
    expect(paths[0].getAttribute('d')!.match(/[ML]/g)).toHaveLength(3);
    expect(screen.getByRole('img')).toHaveAccessibleName('loss: MHA, GQA');
  });

  it('says so when there is nothing to draw, and drops non-positive values on a log axis', () => {
    render(<LineChart title="empty" xLabel="x" yLabel="y" series={[]} />);
    expect(screen.getByText('No data yet.')).toBeInTheDocument();
    const { container } = render(<LineChart title="log" xLabel="x" yLabel="y" xLog series={[{ key: 'a', label: 'a', color: '#000', points: [{ x: 0, y: 1 }, { x: 1024, y: 2 }, { x: 2048, y: 3 }] }]} />);
    expect(container.querySelector('g.series path')!.getAttribute('d')!.match(/[ML]/g)).toHaveLength(2);
  });
});

describe('ScatterChart', () => {
  it('marks frontier points and draws the frontier line', () => {
    const { container } = render(
      <ScatterChart
        title="pareto"
        xLabel="kv"
        yLabel="loss"
        points={[
          { key: 'a', label: 'A', x: 1, y: 2, color: '#000', onFrontier: true },
          { key: 'b', label: 'B', x: 2, y: 3, color: '#000' },
        ]}
        frontier={[{ x: 1, y: 2 }]}
      />,
    );
    expect(container.querySelectorAll('circle')).toHaveLength(2);
    expect(container.querySelector('path.frontier')).not.toBeNull();
    expect(container.querySelector('circle title')!.textContent).toContain('on the frontier');
  });

  it('labels every tick of a narrow axis distinctly', () => {
    const { container } = render(
      <ScatterChart
        title="pareto"
        xLabel="bytes"
        yLabel="val loss"
        points={[
          { key: 'a', label: 'MHA', x: 256, y: 4.85418, color: '#000' },
          { key: 'b', label: 'OVQ', x: 66, y: 4.85462, color: '#111' },
        ]}
      />,
    );
    const labels = [...container.querySelectorAll('text.tick')].map((t) => t.textContent);
    expect(labels.length).toBeGreaterThan(3);
    expect(new Set(labels).size).toBe(labels.length);
  });
});
