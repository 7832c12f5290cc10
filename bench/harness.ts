/**
 * The benchmark harness's public face: the {@link Benchmark} interface every `bench/*.bench.ts`
 * exports a list of, and small timing helpers so each benchmark stays a few lines long.
 *
 * Every figure is measured against a baseline in the same run (same machine, same load), because
 * absolute numbers on 2 shared cores swing with what everybody else is running; a ratio does not
 * swing nearly as much. `bench/run.ts` computes ratio = value / baseline and records it.
 */

/** One named measurement. `run` measures `value` and `baseline` in the same run, same units. */
export interface Benchmark {
  /** snake_case, unique across bench/*.bench.ts; the name used on the command line. */
  name: string;
  /** Unit of `value` and `baseline`, e.g. `MB/s`, `ms`, `ops/s`. */
  unit: string;
  /** The goal, for humans, e.g. `ratio ≥ 0.8` or `500–1500 ms`. */
  goal?: string;
  run(): Promise<{ value: number; baseline: number }>;
}

/** What bench/results.json holds per benchmark. */
export interface BenchResult {
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
}

/** How often to run a function before and while timing it. */
export interface TimeOptions {
  /** Untimed runs first (JIT, caches, imported keys). @default 2 */
  warmup?: number;
  /** Timed runs. @default 10 */
  iterations?: number;
  /**
   * Which sample to report. `median` shrugs off a neighbour's burst of load; `min` (best of N)
   * suits short CPU-bound work on shared cores, where other processes only ever add time.
   * @default 'median'
   */
  statistic?: 'median' | 'min';
}

type Task = () => unknown;

function pick(samples: readonly number[], options: TimeOptions): number {
  return options.statistic === 'min' ? Math.min(...samples) : median(samples);
}

function counts(options: TimeOptions): { warmup: number; iterations: number } {
  const warmup = options.warmup ?? 2;
  const iterations = options.iterations ?? 10;
  if (!Number.isSafeInteger(warmup) || warmup < 0) throw new RangeError(`warmup must be an integer ≥ 0, got ${warmup}`);
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be an integer ≥ 1, got ${iterations}`);
  return { warmup, iterations };
}

/** Median of a non-empty list (the mean of the two middle values for an even count). */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new RangeError('median of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds one call of `fn` takes (awaited if it returns a promise). */
export async function timeOnce(fn: Task): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** All timed samples (ms) of `fn`, after `warmup` untimed calls. */
export async function timeSamples(fn: Task, options: TimeOptions = {}): Promise<number[]> {
  const { warmup, iterations } = counts(options);
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) samples.push(await timeOnce(fn));
  return samples;
}

/** Milliseconds of one call of `fn`: the median of the samples (or the minimum, see TimeOptions). */
export async function timeIt(fn: Task, options: TimeOptions = {}): Promise<number> {
  return pick(await timeSamples(fn, options), options);
}

/**
 * Times a measured function and its baseline alternately (A, B, A, B, …) and returns the median
 * (or minimum, see TimeOptions) ms of each. Alternating means a change in machine load hits both sides alike, which keeps the
 * ratio honest on shared cores; timing all of A and then all of B would not.
 */
export async function timePair(measured: Task, baseline: Task, options: TimeOptions = {}): Promise<{ value: number; baseline: number }> {
  const { warmup, iterations } = counts(options);
  for (let i = 0; i < warmup; i++) {
    await measured();
    await baseline();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < iterations; i++) {
    // Swap who goes first each round so neither side always inherits the other's garbage.
    if (i % 2 === 0) {
      a.push(await timeOnce(measured));
      b.push(await timeOnce(baseline));
    } else {
      b.push(await timeOnce(baseline));
      a.push(await timeOnce(measured));
    }
  }
  return { value: pick(a, options), baseline: pick(b, options) };
}

/** Throughput in MB/s (10^6 bytes per second) of `bytes` processed in `ms` milliseconds. */
export function megabytesPerSecond(bytes: number, ms: number): number {
  if (!(ms > 0)) throw new RangeError(`duration must be > 0 ms, got ${ms}`);
  return bytes / 1e6 / (ms / 1000);
}

/** Operations per second of `operations` done in `ms` milliseconds. */
export function perSecond(operations: number, ms: number): number {
  if (!(ms > 0)) throw new RangeError(`duration must be > 0 ms, got ${ms}`);
  return operations / (ms / 1000);
}
