// Plain-text tables for terminal output (right-aligned numbers, a header rule). No colours: logs and pipes
// stay readable.
export function formatTable(header: string[], rows: (string | number | null)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null ? '-' : typeof c === 'number' ? fmt(c) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  // Blank trailing cells (a model's rows after its first) leave no spaces at the end of a line.
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padStart(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

function fmt(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 1000 ? x.toFixed(0) : x.toFixed(3);
}

/** Per-horizon scores of one model (MASE null where undefined; accuracy null unless prices are integers). */
export interface HorizonScores {
  mse: number[];
  mae: number[];
  mase: (number | null)[];
  accuracy: number[] | null;
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * A model's rows of a per-horizon table: MSE, MAE, MASE and (when known) accuracy, each with its mean over the
 * horizons; `extra` fills the columns after the mean on the first row (the others are left blank).
 */
export function scoreRows(
  name: string,
  s: HorizonScores,
  extra: (string | number | null)[],
): (string | number | null)[][] {
  const perHorizon = (values: (number | null)[], show = (x: number) => x as number | string) => {
    const known = values.filter((v): v is number => v !== null);
    const avg = known.reduce((a, b) => a + b, 0) / known.length;
    return [
      ...values.map((v) => (v === null ? null : show(v))),
      known.length === values.length ? show(avg) : null,
    ];
  };
  const blank = extra.map(() => '');
  return [
    [name, 'MSE', ...perHorizon(s.mse), ...extra],
    ['', 'MAE', ...perHorizon(s.mae), ...blank],
    ['', 'MASE', ...perHorizon(s.mase), ...blank],
    ...(s.accuracy ? [['', 'accuracy', ...perHorizon(s.accuracy, percent), ...blank]] : []),
  ];
}
