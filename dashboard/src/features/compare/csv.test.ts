import { describe, expect, it } from 'vitest';
import { csvField, toCsv } from './csv';

describe('csv', () => {
  it('quotes only what needs quoting and doubles quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
  });

  it('writes empty cells for missing and non-finite numbers', () => {
    expect(csvField(undefined)).toBe('');
    expect(csvField(null)).toBe('');
    expect(csvField(NaN)).toBe('');
    expect(csvField(0)).toBe('0');
    expect(csvField(false)).toBe('false');
  });

  it('writes a header and CRLF-terminated rows', () => {
    expect(
      toCsv(
        ['variant', 'p50Ms'],
        [
          ['GQA 16q/4kv', 1.5],
          ['CCA, 4x', undefined],
        ],
      ),
    ).toBe('variant,p50Ms\r\nGQA 16q/4kv,1.5\r\n"CCA, 4x",\r\n');
  });
});
