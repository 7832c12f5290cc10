/**
 * `npm run bench [-- NAME ...]`: loads every bench/*.bench.ts, runs all benchmarks (or only the
 * named ones), prints a table and merges the figures into bench/results.json as
 * { name: { value, unit, baseline, ratio } }. `--list` prints the names; `--help` the usage.
 *
 * Exit codes: 0 all requested benchmarks ran, 1 one failed (or a bench file failed to load when
 * running all), 2 wrong usage (unknown name or option).
 */
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Benchmark, BenchResult } from './harness.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = join(BENCH_DIR, 'results.json');
const NAME = /^[a-z0-9_]+$/;

const USAGE = `usage: npm run bench [-- [--list] [NAME ...]]
  runs every benchmark of bench/*.bench.ts, or only those NAMEd;
  prints a table and merges the figures into bench/results.json`;

interface Loaded {
  benchmarks: { file: string; bench: Benchmark }[];
  loadErrors: { file: string; message: string }[];
}

function isBenchmark(value: unknown): value is Benchmark {
  if (typeof value !== 'object' || value === null) return false;
  const b = value as Record<string, unknown>;
  return (
    typeof b.name === 'string' &&
    NAME.test(b.name) &&
    typeof b.unit === 'string' &&
    (b.goal === undefined || typeof b.goal === 'string') &&
    typeof b.run === 'function'
  );
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

async function loadBenchmarks(): Promise<Loaded> {
  const files = (await readdir(BENCH_DIR)).filter((f) => f.endsWith('.bench.ts')).sort();
  const loaded: Loaded = { benchmarks: [], loadErrors: [] };
  const seen = new Map<string, string>();
  for (const file of files) {
    try {
      const mod = (await import(pathToFileURL(join(BENCH_DIR, file)).href)) as { benchmarks?: unknown };
      if (!Array.isArray(mod.benchmarks)) throw new Error('does not export `benchmarks: Benchmark[]`');
      for (const [i, bench] of (mod.benchmarks as unknown[]).entries()) {
        if (!isBenchmark(bench)) throw new Error(`benchmarks[${i}] is not a Benchmark (snake_case name, unit, run())`);
        const other = seen.get(bench.name);
        if (other !== undefined) throw new Error(`benchmark name "${bench.name}" is also defined in ${other}`);
        seen.set(bench.name, file);
        loaded.benchmarks.push({ file, bench });
      }
    } catch (error) {
      // The message, not the stack: a bench file that does not load is usually mid-work elsewhere.
      loaded.loadErrors.push({ file, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return loaded;
}

/** Four significant digits, without exponent notation for everyday magnitudes. */
function round(value: number): number {
  return Number.parseFloat(value.toPrecision(4));
}

function format(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1000) return value.toFixed(0);
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return '0';
  return value.toPrecision(3);
}

function checkFigures(figures: unknown): { value: number; baseline: number } {
  const f = figures as { value?: unknown; baseline?: unknown } | null;
  if (typeof f !== 'object' || f === null) throw new Error('run() must resolve to { value, baseline }');
  const { value, baseline } = f;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`value must be a finite number ≥ 0, got ${String(value)}`);
  if (typeof baseline !== 'number' || !Number.isFinite(baseline) || baseline <= 0) {
    throw new Error(`baseline must be a finite number > 0 (it is the divisor of the ratio), got ${String(baseline)}`);
  }
  return { value, baseline };
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  const numeric = new Set([1, 3, 4]);
  const line = (r: readonly string[]): string =>
    r.map((cell, col) => (numeric.has(col) ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join('  ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

async function readResults(): Promise<Record<string, BenchResult>> {
  let text: string;
  try {
    text = await readFile(RESULTS_FILE, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  const parsed = JSON.parse(text) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${RESULTS_FILE} is not a JSON object; fix or delete it`);
  }
  return parsed as Record<string, BenchResult>;
}

async function writeResults(results: Record<string, BenchResult>): Promise<void> {
  const sorted = Object.fromEntries(Object.keys(results).sort().map((k) => [k, results[k]!]));
  const tmp = `${RESULTS_FILE}.tmp`;
  // Write then rename, so an interrupted run never leaves a half-written results.json.
  await writeFile(tmp, `${JSON.stringify(sorted, null, 2)}\n`);
  await rename(tmp, RESULTS_FILE);
}

async function main(argv: readonly string[]): Promise<number> {
  const options = argv.filter((a) => a.startsWith('-'));
  const names = argv.filter((a) => !a.startsWith('-'));
  for (const option of options) {
    if (option === '--help' || option === '-h') {
      console.log(USAGE);
      return 0;
    }
    if (option !== '--list') {
      console.error(`unknown option ${option}\n${USAGE}`);
      return 2;
    }
  }

  const { benchmarks, loadErrors } = await loadBenchmarks();
  for (const { file, message } of loadErrors) console.error(`could not load bench/${file}: ${message}`);

  if (options.includes('--list')) {
    for (const { file, bench } of benchmarks) console.log(`${bench.name.padEnd(28)} ${bench.unit.padEnd(12)} ${file}`);
    return loadErrors.length > 0 ? 1 : 0;
  }

  const unknown = names.filter((n) => !benchmarks.some((b) => b.bench.name === n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; known: ${benchmarks.map((b) => b.bench.name).join(', ') || '(none)'}`);
    if (loadErrors.length > 0) console.error('(some bench files failed to load; the name may be defined in one of them)');
    return 2;
  }
  const selected = names.length > 0 ? benchmarks.filter((b) => names.includes(b.bench.name)) : benchmarks;
  if (selected.length === 0) {
    console.error('no benchmarks found in bench/*.bench.ts');
    return loadErrors.length > 0 ? 1 : 2;
  }

  const fresh: Record<string, BenchResult> = {};
  const rows: string[][] = [['name', 'value', 'unit', 'baseline', 'ratio', 'goal']];
  let failed = names.length === 0 && loadErrors.length > 0;
  for (const { bench } of selected) {
    process.stderr.write(`running ${bench.name} …\n`);
    try {
      const { value, baseline } = checkFigures(await bench.run());
      const result: BenchResult = { value: round(value), unit: bench.unit, baseline: round(baseline), ratio: round(value / baseline) };
      fresh[bench.name] = result;
      rows.push([bench.name, format(value), bench.unit, format(baseline), format(value / baseline), bench.goal ?? '']);
    } catch (error) {
      failed = true;
      console.error(`${bench.name} failed: ${errorMessage(error)}`);
      rows.push([bench.name, 'FAILED', bench.unit, '', '', bench.goal ?? '']);
    }
  }

  console.log(table(rows));
  if (Object.keys(fresh).length > 0) {
    // Merge: a run of some benchmarks keeps the others' last figures. Read late, so results
    // written by another run meanwhile are kept too.
    await writeResults({ ...(await readResults()), ...fresh });
    console.log(`\nwrote ${Object.keys(fresh).length} result(s) to bench/results.json`);
  }
  return failed ? 1 : 0;
}

// Exit explicitly: a benchmark may leave handles open (sockets, timers) that would keep Node alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(errorMessage(error));
    process.exit(1);
  },
);
