// Plain-text tables for benchmark output: left-aligned first column, right-aligned figures.
export function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const r of rows) console.log(line(r));
}

export const ms = (n: number) => `${Math.round(n).toLocaleString('en-US')} ms`;
export const seconds = (n: number) => `${(n / 1000).toFixed(1)} s`;
