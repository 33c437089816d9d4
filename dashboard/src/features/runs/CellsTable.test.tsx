import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { BenchmarkCell } from '../../shared/api/types';
import { CellsTable } from './CellsTable';

const cell = (phase: string, scope: string, extra: Partial<BenchmarkCell> = {}): BenchmarkCell =>
  ({ phase, scope, causal: true, batch: 1, seqLen: 64, dtype: 'fp32', backend: 'cpu', p10Ms: 1, p50Ms: 1.5, p90Ms: 2, tflops: 0.00229, bytesPerSecond: 2.85e8, ...extra }) as BenchmarkCell;

describe('CellsTable', () => {
  it('orders phases forward, backward, decode and scopes core before layer', () => {
    render(<CellsTable cells={[cell('BACKWARD', 'LAYER'), cell('DECODE', 'LAYER'), cell('FORWARD', 'LAYER'), cell('FORWARD', 'CORE')]} />);
    const rows = screen.getAllByRole('row').slice(1).map((tr) => within(tr).getAllByRole('cell').slice(0, 2).map((td) => td.textContent).join('/'));
    expect(rows).toEqual(['FORWARD/CORE', 'FORWARD/LAYER', 'BACKWARD/LAYER', 'DECODE/LAYER']);
  });

  it('shows TFLOP/s to significant figures and rates with the prefix on the unit', () => {
    render(<CellsTable cells={[cell('FORWARD', 'LAYER'), cell('DECODE', 'LAYER', { tflops: 0.000154, bytesPerSecond: 1.5e12 })]} />);
    expect(screen.getByText('0.00229')).toBeInTheDocument();
    expect(screen.getByText('1.54e-4')).toBeInTheDocument();
    expect(screen.getByText('285 MB/s')).toBeInTheDocument();
    expect(screen.getByText('1.50 TB/s')).toBeInTheDocument();
  });
});
