import { describe, expect, it } from 'vitest';
import { bytes, fixed, seconds, si, sig, siUnit, tick, tickLabels } from './format';

describe('format', () => {
  it('si keeps three significant digits', () => {
    expect(si(4224)).toBe('4.22k');
    expect(si(2.749e12, 'FLOP')).toBe('2.75T FLOP');
    expect(si(undefined)).toBe('—');
  });
  it('tick drops trailing zeros', () => {
    expect(tick(10)).toBe('10');
    expect(tick(0.25)).toBe('0.25');
    expect(tick(2000)).toBe('2k');
    expect(tick(1500000)).toBe('1.5M');
    expect(tick(16384)).toBe('16k');
    expect(tick(15000)).toBe('15k');
  });
  it('tickLabels adds digits until no two ticks of an axis read the same', () => {
    expect(tickLabels([0, 0.5, 1])).toEqual(['0', '0.5', '1']);
    expect(tickLabels([512, 1024, 2048])).toEqual(['512', '1k', '2k']);
    // Validation losses of an OVQ hybrid and MHA at chance differ in the fifth digit.
    expect(tickLabels([4.8541, 4.8542, 4.8543, 4.8544])).toEqual(['4.8541', '4.8542', '4.8543', '4.8544']);
    expect(tickLabels([100200, 100400, 100600])).toEqual(['100200', '100400', '100600']);
  });
  it('bytes uses binary units', () => {
    expect(bytes(128)).toBe('128 B');
    expect(bytes(8192)).toBe('8.00 KiB');
  });
  it('fixed and seconds', () => {
    expect(fixed(0.00001)).toBe('1.00e-5');
    expect(fixed(1.23456)).toBe('1.235');
    expect(seconds(75)).toBe('1 m 15 s');
  });

  it('sig keeps the same significant figures at every magnitude', () => {
    expect(sig(0.00229)).toBe('0.00229');
    expect(sig(0.000154)).toBe('1.54e-4');
    expect(sig(1.5409)).toBe('1.54');
    expect(sig(12.345)).toBe('12.3');
    expect(sig(999.6)).toBe('1000');
    expect(sig(1234.5)).toBe('1235');
    expect(sig(0)).toBe('0');
    expect(sig(undefined)).toBe('—');
    expect(sig(2.5e7)).toBe('2.50e7');
  });

  it('siUnit puts the prefix on the unit', () => {
    expect(siUnit(2.85e8, 'B/s')).toBe('285 MB/s');
    expect(siUnit(512, 'B/s')).toBe('512 B/s');
    expect(siUnit(1.5e12, 'B/s')).toBe('1.50 TB/s');
    expect(siUnit(null, 'B/s')).toBe('—');
  });
});
