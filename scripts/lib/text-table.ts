// Plain text for terminals: tables for benchmark output (left-aligned first column, right-aligned
// figures), and the word wrap of long cells.
export function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const r of rows) console.log(line(r));
}

export const ms = (n: number) => `${Math.round(n).toLocaleString('en-US')} ms`;
export const seconds = (n: number) => `${(n / 1000).toFixed(1)} s`;

/**
 * Breaks `text` into lines of at most `width` characters, at spaces where it can and inside a word
 * only when the word alone is longer than a line. Nothing is dropped.
 */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/ +/)) {
    let rest = word;
    if (!rest) continue;
    if (line && line.length + 1 + rest.length <= w) {
      line += ` ${rest}`;
      continue;
    }
    if (line) lines.push(line);
    while (rest.length > w) {
      lines.push(rest.slice(0, w));
      rest = rest.slice(w);
    }
    line = rest;
  }
  if (line || !lines.length) lines.push(line);
  return lines;
}
