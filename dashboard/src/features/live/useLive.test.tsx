import { act, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEventSource } from '../../test/fakeApi';
import { LiveIndicator, useLive } from './useLive';

function Probe({ url, enabled = true }: { url: string; enabled?: boolean }) {
  const live = useLive(url, { enabled, debounceMs: 10, pollMs: 50 });
  return (
    <div>
      <span data-testid="tick">{live.tick}</span>
      <LiveIndicator live={live} />
    </div>
  );
}

beforeEach(() => {
  FakeEventSource.instances = [];
  vi.stubGlobal('EventSource', FakeEventSource);
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('useLive', () => {
  it('bumps the tick once per burst of named server events', async () => {
    render(<Probe url="/api/live/runs/r1" />);
    const es = FakeEventSource.instances[0];
    expect(es.url).toBe('/api/live/runs/r1');
    act(() => es.open());
    expect(screen.getByRole('status')).toHaveTextContent('streaming');
    act(() => {
      es.emit('status', { status: 'RUNNING' });
      es.emit('metrics', { points: [] });
    });
    await act(async () => vi.advanceTimersByTime(20));
    expect(screen.getByTestId('tick')).toHaveTextContent('1');
    act(() => es.emit('cells', { cells: [] }));
    await act(async () => vi.advanceTimersByTime(20));
    expect(screen.getByTestId('tick')).toHaveTextContent('2');
  });

  it('polls while the stream is down and closes it when disabled', async () => {
    const { rerender } = render(<Probe url="/api/live/queue" />);
    const es = FakeEventSource.instances[0];
    await act(async () => vi.advanceTimersByTime(120));
    expect(Number(screen.getByTestId('tick').textContent)).toBeGreaterThanOrEqual(2);
    expect(screen.getByRole('status')).toHaveTextContent('polling');
    rerender(<Probe url="/api/live/queue" enabled={false} />);
    expect(es.closed).toBe(true);
    const before = screen.getByTestId('tick').textContent;
    await act(async () => vi.advanceTimersByTime(200));
    expect(screen.getByTestId('tick').textContent).toBe(before);
  });
});
