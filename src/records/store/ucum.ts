/**
 * Unit conversion for lab series, limited to what UCUM makes safe (https://ucum.org/ucum):
 *
 * 1. Same dimension, different scale: g/L ↔ mg/dL, mmol/L ↔ umol/L, 10*9/L ↔ 10*3/uL, [lb_av] ↔
 *    kg, [in_i] ↔ cm, mm[Hg] ↔ kPa, U/L ↔ ukat/L… Parsed from the UCUM code: prefixes × atoms ×
 *    exponents, `.` and `/`, `10*n` factors, `{annotations}` ignored (they carry no dimension).
 * 2. Temperatures Cel ↔ [degF] ↔ K (affine), only between plain temperature units.
 * 3. Mass ↔ amount of substance (mg/dL ↔ mmol/L) only for an analyte whose molar mass is known and
 *    fixed, listed by LOINC code in {@link MOLAR_MASS}; never guessed from a name.
 * Arbitrary units ([IU], [arb'U]) convert only to themselves with another prefix. Anything not
 * parsed is compared as text and never converted.
 */

/** A parsed unit: value_in_base = value × factor (+ offset for temperatures); dims are exponents. */
export interface ParsedUnit {
  factor: number;
  dims: Readonly<Record<string, number>>;
  /** Temperatures only: kelvin = value × factor + offset. */
  offset?: number;
}

/**
 * Molar masses (g/mol) of analytes by LOINC code (both the mass and the substance code of each).
 * Values: PubChem molecular weights; triglycerides use the conventional triolein 885.7 g/mol that
 * laboratories use for mg/dL ↔ mmol/L.
 */
export const MOLAR_MASS: Readonly<Record<string, { analyte: string; gramsPerMole: number }>> = {
  // Glucose, C6H12O6
  '2345-7': { analyte: 'glucose', gramsPerMole: 180.156 },
  '2339-0': { analyte: 'glucose', gramsPerMole: 180.156 },
  '41653-7': { analyte: 'glucose', gramsPerMole: 180.156 },
  '14749-6': { analyte: 'glucose', gramsPerMole: 180.156 },
  '15074-8': { analyte: 'glucose', gramsPerMole: 180.156 },
  // Cholesterol, C27H46O (total, HDL, LDL)
  '2093-3': { analyte: 'cholesterol', gramsPerMole: 386.654 },
  '14647-2': { analyte: 'cholesterol', gramsPerMole: 386.654 },
  '2085-9': { analyte: 'cholesterol', gramsPerMole: 386.654 },
  '14646-4': { analyte: 'cholesterol', gramsPerMole: 386.654 },
  '13457-7': { analyte: 'cholesterol', gramsPerMole: 386.654 },
  '18262-6': { analyte: 'cholesterol', gramsPerMole: 386.654 },
  '2089-1': { analyte: 'cholesterol', gramsPerMole: 386.654 },
  '22748-8': { analyte: 'cholesterol', gramsPerMole: 386.654 },
  // Triglycerides (conventional)
  '2571-8': { analyte: 'triglycerides', gramsPerMole: 885.7 },
  '14927-8': { analyte: 'triglycerides', gramsPerMole: 885.7 },
  // Creatinine, C4H7N3O
  '2160-0': { analyte: 'creatinine', gramsPerMole: 113.12 },
  '14682-9': { analyte: 'creatinine', gramsPerMole: 113.12 },
  '38483-4': { analyte: 'creatinine', gramsPerMole: 113.12 },
  // Uric acid, C5H4N4O3
  '3084-1': { analyte: 'urate', gramsPerMole: 168.11 },
  '14933-6': { analyte: 'urate', gramsPerMole: 168.11 },
  // Bilirubin, C33H36N4O6
  '1975-2': { analyte: 'bilirubin', gramsPerMole: 584.66 },
  '14631-6': { analyte: 'bilirubin', gramsPerMole: 584.66 },
  // Calcium, Ca
  '17861-6': { analyte: 'calcium', gramsPerMole: 40.078 },
  '2000-8': { analyte: 'calcium', gramsPerMole: 40.078 },
};

type Dims = Record<string, number>;
interface Atom {
  factor: number;
  dims: Dims;
  metric: boolean;
  offset?: number;
}

// Base dimensions: g (mass), m (length), s (time), mol (amount), K (temperature), plus one
// dimension per arbitrary unit.
const ATOMS: Record<string, Atom> = {
  g: { factor: 1, dims: { g: 1 }, metric: true },
  m: { factor: 1, dims: { m: 1 }, metric: true },
  s: { factor: 1, dims: { s: 1 }, metric: true },
  mol: { factor: 1, dims: { mol: 1 }, metric: true },
  K: { factor: 1, dims: { K: 1 }, metric: true },
  L: { factor: 1e-3, dims: { m: 3 }, metric: true },
  l: { factor: 1e-3, dims: { m: 3 }, metric: true },
  kat: { factor: 1, dims: { mol: 1, s: -1 }, metric: true },
  // Enzyme unit: 1 U = 1 umol/min (UCUM).
  U: { factor: 1e-6 / 60, dims: { mol: 1, s: -1 }, metric: true },
  Pa: { factor: 1000, dims: { g: 1, m: -1, s: -2 }, metric: true },
  bar: { factor: 1e8, dims: { g: 1, m: -1, s: -2 }, metric: true },
  eq: { factor: 1, dims: { eq: 1 }, metric: true },
  '[IU]': { factor: 1, dims: { '[IU]': 1 }, metric: true },
  '[iU]': { factor: 1, dims: { '[IU]': 1 }, metric: true },
  "[arb'U]": { factor: 1, dims: { "[arb'U]": 1 }, metric: false },
  Cel: { factor: 1, dims: { K: 1 }, metric: true, offset: 273.15 },
  '[degF]': { factor: 5 / 9, dims: { K: 1 }, metric: false, offset: 459.67 * (5 / 9) },
  min: { factor: 60, dims: { s: 1 }, metric: false },
  h: { factor: 3600, dims: { s: 1 }, metric: false },
  d: { factor: 86400, dims: { s: 1 }, metric: false },
  wk: { factor: 604800, dims: { s: 1 }, metric: false },
  '%': { factor: 1e-2, dims: {}, metric: false },
  '[ppm]': { factor: 1e-6, dims: {}, metric: false },
  'mm[Hg]': { factor: 133322.387415, dims: { g: 1, m: -1, s: -2 }, metric: false },
  'cm[H2O]': { factor: 98066.5, dims: { g: 1, m: -1, s: -2 }, metric: false },
  '[lb_av]': { factor: 453.59237, dims: { g: 1 }, metric: false },
  '[oz_av]': { factor: 28.349523125, dims: { g: 1 }, metric: false },
  '[in_i]': { factor: 0.0254, dims: { m: 1 }, metric: false },
  '[ft_i]': { factor: 0.3048, dims: { m: 1 }, metric: false },
};

const PREFIXES: Record<string, number> = {
  da: 1e1,
  h: 1e2,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  d: 1e-1,
  c: 1e-2,
  m: 1e-3,
  u: 1e-6,
  n: 1e-9,
  p: 1e-12,
  f: 1e-15,
  a: 1e-18,
};

/** Parses a UCUM code (case-sensitive form); undefined if it is not one this module understands. */
export function parseUcum(code: string): ParsedUnit | undefined {
  if (typeof code !== 'string' || code.length === 0 || code.length > 64) return undefined;
  // An annotation on its own is the unity (`mL/min/{1.73_m2}`); attached to a unit it is dropped.
  const text = code.replace(/(^|[./(])\{[^{}]*\}(?=$|[./)])/g, '$11').replace(/\{[^{}]*\}/g, '');
  if (text === '' || text === '1') return { factor: 1, dims: {} };
  // Kelvin on its own is an absolute temperature: it converts to and from Cel and [degF].
  if (text === 'K') return { factor: 1, dims: { K: 1 }, offset: 0 };
  // A single temperature atom keeps its offset; inside a product offsets make no sense.
  const plain = ATOMS[text];
  if (plain?.offset !== undefined) return { factor: plain.factor, dims: plain.dims, offset: plain.offset };
  try {
    const parser = new Parser(text);
    const result = parser.term();
    if (!parser.done()) return undefined;
    return { factor: result.factor, dims: clean(result.dims) };
  } catch {
    return undefined;
  }
}

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  done(): boolean {
    return this.pos === this.text.length;
  }

  term(): { factor: number; dims: Dims } {
    let acc = { factor: 1, dims: {} as Dims };
    let op: '.' | '/' = '.';
    if (this.text[this.pos] === '/') {
      op = '/';
      this.pos++;
    }
    for (;;) {
      const c = this.component();
      acc = combine(acc, c, op === '/' ? -1 : 1);
      const next = this.text[this.pos];
      if (next === '.' || next === '/') {
        op = next;
        this.pos++;
        continue;
      }
      return acc;
    }
  }

  private component(): { factor: number; dims: Dims } {
    if (this.text[this.pos] === '(') {
      this.pos++;
      const inner = this.term();
      if (this.text[this.pos] !== ')') throw new Error('unbalanced');
      this.pos++;
      return inner;
    }
    // 10*n / 10^n
    const power = /^10[*^]([+-]?\d{1,3})/.exec(this.text.slice(this.pos));
    if (power) {
      this.pos += power[0].length;
      return { factor: 10 ** Number(power[1]), dims: {} };
    }
    const number = /^\d+(?![A-Za-z[%])/.exec(this.text.slice(this.pos));
    if (number) {
      this.pos += number[0].length;
      return { factor: Number(number[0]), dims: {} };
    }
    // The longest run up to an operator or parenthesis is one annotatable unit with an exponent.
    const m = /^([^./()]+?)([+-]?\d+)?(?=$|[./)])/.exec(this.text.slice(this.pos));
    if (!m) throw new Error('no unit');
    this.pos += m[0].length;
    const atom = resolveAtom(m[1]!);
    if (!atom) throw new Error('unknown unit');
    const exponent = m[2] === undefined ? 1 : Number(m[2]);
    return { factor: atom.factor ** exponent, dims: scale(atom.dims, exponent) };
  }
}

function resolveAtom(symbol: string): { factor: number; dims: Dims } | undefined {
  const direct = ATOMS[symbol];
  if (direct && direct.offset === undefined) return direct;
  for (const [prefix, factor] of Object.entries(PREFIXES)) {
    if (!symbol.startsWith(prefix)) continue;
    const atom = ATOMS[symbol.slice(prefix.length)];
    if (atom && atom.metric && atom.offset === undefined) return { factor: factor * atom.factor, dims: atom.dims };
  }
  // µ as well as u for micro.
  if (symbol.startsWith('µ')) return resolveAtom(`u${symbol.slice(1)}`);
  return undefined;
}

function scale(dims: Dims, by: number): Dims {
  const out: Dims = {};
  for (const [k, v] of Object.entries(dims)) out[k] = v * by;
  return out;
}

function combine(a: { factor: number; dims: Dims }, b: { factor: number; dims: Dims }, sign: 1 | -1): { factor: number; dims: Dims } {
  const dims: Dims = { ...a.dims };
  for (const [k, v] of Object.entries(b.dims)) dims[k] = (dims[k] ?? 0) + sign * v;
  return { factor: sign === 1 ? a.factor * b.factor : a.factor / b.factor, dims };
}

function clean(dims: Dims): Dims {
  const out: Dims = {};
  for (const [k, v] of Object.entries(dims)) if (v !== 0) out[k] = v;
  return out;
}

function sameDims(a: Readonly<Dims>, b: Readonly<Dims>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

/**
 * Converts `value` from UCUM unit `from` to `to`, or undefined when that is not safe (see the
 * module comment). `loinc` names the analyte for mass ↔ amount conversions.
 */
export function convertUnit(value: number, from: string, to: string, loinc?: string): number | undefined {
  if (from === to) return value;
  const a = parseUcum(from);
  const b = parseUcum(to);
  if (!a || !b) return undefined;
  if (a.offset !== undefined || b.offset !== undefined) {
    // Temperatures: only plain temperature atoms on both sides.
    if (a.offset === undefined || b.offset === undefined) return undefined;
    return (value * a.factor + a.offset - b.offset) / b.factor;
  }
  if (sameDims(a.dims, b.dims)) return (value * a.factor) / b.factor;
  const molar = loinc === undefined ? undefined : MOLAR_MASS[loinc];
  if (!molar) return undefined;
  // mass → amount: divide grams by g/mol; amount → mass: multiply.
  const asAmount = (u: ParsedUnit): ParsedUnit | undefined => {
    if ((u.dims.g ?? 0) === 1 && (u.dims.mol ?? 0) === 0) {
      const dims: Dims = { ...u.dims, mol: 1 };
      delete dims.g;
      return { factor: u.factor / molar.gramsPerMole, dims };
    }
    return u;
  };
  const a2 = asAmount(a);
  const b2 = asAmount(b);
  if (!a2 || !b2 || !sameDims(a2.dims, b2.dims) || (a2.dims.mol ?? 0) !== 1) return undefined;
  return (value * a2.factor) / b2.factor;
}
