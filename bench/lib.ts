/**
 * A small side-by-side harness: candidates and their floor run interleaved in the same process,
 * round after round, and the report is the ratio of medians, because these machines are noisy and
 * only a comparison made in one run means anything.
 */
export interface Case {
  name: string;
  /** One batch of work; returns how many operations it did. */
  run: () => Promise<number> | number;
}

export interface CaseResult {
  name: string;
  /** Median nanoseconds per operation over the rounds. */
  nsPerOp: number;
  p99?: number;
}

export async function compare(cases: Case[], { rounds = 15, warmup = 3 } = {}): Promise<CaseResult[]> {
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let round = 0; round < rounds + warmup; round++) {
    // Alternate the order so neither side always runs on a warmer (or busier) machine.
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) {
      const start = process.hrtime.bigint();
      const ops = await c.run();
      const ns = Number(process.hrtime.bigint() - start) / ops;
      if (round >= warmup) samples.get(c.name)?.push(ns);
    }
  }
  return cases.map((c) => ({ name: c.name, nsPerOp: median(samples.get(c.name) ?? []) }));
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export function report(title: string, lines: Array<[string, string]>): void {
  console.log(`\n## ${title}`);
  const width = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) console.log(`  ${k.padEnd(width)}  ${v}`);
}

export const fmt = {
  ns: (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} ms` : n >= 1e3 ? `${(n / 1e3).toFixed(2)} µs` : `${n.toFixed(1)} ns`),
  ratio: (n: number) => `${n.toFixed(2)}x`,
};
