import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { StatusBar } from './StatusBar';

describe('StatusBar', () => {
  it('draws each status in proportion and says the numbers', () => {
    const { container } = render(<StatusBar counts={{ total: 4, succeeded: 3, failed: 1, queued: 0 }} />);
    expect(screen.getByText('3 succeeded, 1 failed')).toBeInTheDocument();
    const widths = [...container.querySelectorAll('.bar span')].map((s) => (s as HTMLElement).style.width);
    expect(widths).toEqual(['75%', '25%']);
  });

  it('says when there are no runs', () => {
    render(<StatusBar counts={{ total: 0 }} />);
    expect(screen.getByText('no runs')).toBeInTheDocument();
  });
});
