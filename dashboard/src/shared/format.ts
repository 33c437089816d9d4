// Number and time formatting shared by tables, charts and the cost panel.

const SI = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** 1234567 -> "1.23M"; keeps three significant digits, which is what a comparison table needs. */
export function si(value: number | undefined | null, unit = ''): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—';
  if (value === 0) return `0${unit ? ' ' + unit : ''}`;
  const sign = value < 0 ? '-' : '';
  let v = Math.abs(value);
  let i = 0;
  while (v >= 1000 && i < SI.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  const text = `${sign}${v.toFixed(digits)}${SI[i]}`;
  return unit ? `${text} ${unit}` : text;
}

/** A rate or size in SI prefixes with the unit after them: 2.85e8, "B/s" -> "285 MB/s". */
export function siUnit(value: number | undefined | null, unit: string): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—';
  const text = si(value);
  const m = text.match(/^(-?[\d.]+)([a-zA-Z]?)$/);
  return m ? `${m[1]} ${m[2]}${unit}` : `${text} ${unit}`;
}

export function bytes(value: number | undefined | null): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = value;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

export function fixed(value: number | undefined | null, digits = 3): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—';
  if (value !== 0 && (Math.abs(value) < 10 ** -digits || Math.abs(value) >= 1e6)) return value.toExponential(2);
  return value.toFixed(digits);
}

/**
 * A measurement to `digits` significant figures, the same rule at every magnitude: 0.00229 -> "0.00229",
 * 1.5409 -> "1.54", 12.345 -> "12.3", 1234.5 -> "1235"; below 1e-3 in exponent form ("1.54e-4").
 */
export function sig(value: number | undefined | null, digits = 3): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—';
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs < 1e-3) return value.toExponential(digits - 1);
  if (abs >= 1e6) return value.toExponential(digits - 1).replace('e+', 'e');
  if (abs >= 10 ** digits) return String(Math.round(value));
  const text = value.toPrecision(digits);
  return text.includes('e') ? String(Math.round(value)) : text;
}

export function dateTime(iso: string | undefined | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').slice(0, 19);
}

/** Seconds between two instants, or from `from` to now while the second is absent. */
export function duration(fromIso: string | undefined | null, toIso?: string | null, now = Date.now()): string {
  if (!fromIso) return '—';
  const from = new Date(fromIso).getTime();
  const to = toIso ? new Date(toIso).getTime() : now;
  if (!Number.isFinite(from) || !Number.isFinite(to)) return '—';
  return seconds((to - from) / 1000);
}

export function seconds(s: number | undefined | null): string {
  if (s === undefined || s === null || !Number.isFinite(s)) return '—';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} m`;
}

export function shortId(id: string | undefined | null): string {
  return id ? id.slice(0, 8) : '—';
}

/** Axis tick labels: short, no trailing zeros ("10", "0.25", "2k", "1.5M"); `digits` significant digits below 1000. */
export function tick(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return '';
  // Sequence lengths are powers of two and read as 1k, 2k, ... 16k, as papers label them.
  if (value >= 1024 && Number.isInteger(Math.log2(value)) && value <= 2 ** 30) return value >= 2 ** 20 ? `${value / 2 ** 20}M` : `${value / 1024}k`;
  if (Math.abs(value) >= 1000 && digits <= 4) return si(value).replace(/\.0+(?=[a-zA-Z])|(\.\d*?)0+(?=[a-zA-Z])/, '$1');
  return String(Number(value.toPrecision(digits)));
}

/**
 * The labels of one axis: `tick` of each, with as many more significant digits as it takes for no two ticks to
 * read the same (losses within 0.001 of each other otherwise label every tick "4.854").
 */
export function tickLabels(values: number[]): string[] {
  for (let digits = 4; digits < 12; digits++) {
    const labels = values.map((v) => tick(v, digits));
    if (new Set(labels).size === labels.length) return labels;
  }
  return values.map((v) => tick(v, 12));
}
