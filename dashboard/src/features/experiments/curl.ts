// The curl command equivalent to a form submission, for scripts and bug reports.

/** POSIX single-quoting: the only character to escape inside '...' is ' itself. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function curlCommand(origin: string, path: string, body: unknown): string {
  const json = JSON.stringify(body, null, 2);
  return [`curl -sS -X POST ${shellQuote(origin + path)}`, `  -H 'Content-Type: application/json'`, `  --data ${shellQuote(json)}`].join(' \\\n');
}
