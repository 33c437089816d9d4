import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('index.html', () => {
  it('declares an inline favicon, so the browser does not ask for /favicon.ico', () => {
    const html = readFileSync(resolve(__dirname, '../index.html'), 'utf8');
    const doc = new DOMParser().parseFromString(html, 'text/html');
    const icon = doc.querySelector('link[rel="icon"]');
    expect(icon?.getAttribute('href')).toMatch(/^data:image\/svg\+xml,/);
    const svg = decodeURIComponent(icon!.getAttribute('href')!.slice('data:image/svg+xml,'.length));
    expect(new DOMParser().parseFromString(svg, 'image/svg+xml').querySelector('parsererror')).toBeNull();
  });
});
