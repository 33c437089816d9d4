import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { MetricCharts } from './MetricCharts';

describe('MetricCharts', () => {
  it('draws train/loss first, then val/loss, then the rest alphabetically', () => {
    const p = [{ step: 1, value: 1 }];
    render(<MetricCharts series={{ grad_norm: p, 'val/loss': p, lr: p, 'train/loss': p, 'eval/recall': p }} />);
    const order = [...document.querySelectorAll('[data-testid^="chart-"]')].map((e) => e.getAttribute('data-testid'));
    expect(order).toEqual(['chart-train/loss', 'chart-val/loss', 'chart-eval/recall', 'chart-grad_norm', 'chart-lr']);
  });
});
