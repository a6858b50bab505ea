// Report helpers shared by the benchmarks: bin/benchmarks.mjs (shipped, `npx deepnode bench`) and
// bench/ (the repo's `npm run bench`, which re-exports these from bench/lib/format.mjs).

/** A GitHub markdown table; `align` is an optional array of 'l' | 'r' per column. */
export function markdownTable(header, rows, align) {
  const sep = header.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  const line = (cells) => `| ${cells.map((c) => String(c ?? '').replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `|${sep.join('|')}|`, ...rows.map(line)].join('\n');
}

/** The median (the mean of the two middle values for an even count; NaN for none). */
export const median = (xs) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
