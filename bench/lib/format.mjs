// Formatting helpers for the benchmark report: markdown tables and numbers.

export { markdownTable, median } from '../../bin/format.mjs';

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

export const PASS = 'pass';
export const FAIL = 'FAIL';
