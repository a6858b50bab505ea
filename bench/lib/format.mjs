// Formatting helpers for the benchmark report: markdown tables and numbers.

/** A GitHub markdown table; `align` is an optional array of 'l' | 'r' per column. */
export function markdownTable(header, rows, align) {
  const sep = header.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  const line = (cells) => `| ${cells.map((c) => String(c ?? '').replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `|${sep.join('|')}|`, ...rows.map(line)].join('\n');
}

/** A number with `digits` significant-ish decimals; '—' for null/undefined/NaN. */
export function fmt(x, digits = 2) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return x.toFixed(digits);
}

/** Seconds with 3 significant digits (0.612, 12.3, 148). */
export function fmtSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  if (s >= 100) return s.toFixed(0);
  if (s >= 10) return s.toFixed(1);
  if (s >= 1) return s.toFixed(2);
  return s.toFixed(3);
}

/** A ratio such as 2.31×. */
export const fmtRatio = (r) => (r === null || r === undefined || !Number.isFinite(r) ? '—' : `${r.toFixed(2)}×`);

/** A percentage such as 61%. */
export const fmtPct = (f) => (f === null || f === undefined || !Number.isFinite(f) ? '—' : `${(100 * f).toFixed(0)}%`);

export const median = (xs) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

export const PASS = 'pass';
export const FAIL = 'FAIL';
