import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { curlCommand, shellQuote } from './curl';

describe('curl command', () => {
  it('quotes so that a real shell gives back the exact JSON', () => {
    const body = { name: "it's \"quoted\" $HOME `x` \\ done", variants: [] };
    const cmd = curlCommand('http://localhost:8080', '/api/experiments', body);
    expect(cmd).toContain("curl -sS -X POST 'http://localhost:8080/api/experiments'");
    // Replace curl by a function that prints its --data argument, then run the command in sh.
    const script = `curl() { while [ "$1" != "--data" ]; do shift; done; printf '%s' "$2"; }\n${cmd}`;
    const out = execFileSync('sh', ['-c', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(body);
  });

  it('escapes single quotes POSIX-style', () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
});
