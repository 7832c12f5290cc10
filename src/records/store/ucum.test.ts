import { describe, expect, it } from 'vitest';
import { convertUnit, parseUcum } from './ucum.js';

const close = (actual: number | undefined, expected: number) => {
  expect(actual).toBeDefined();
  expect(actual!).toBeCloseTo(expected, 4);
};

describe('UCUM conversion', () => {
  it('converts between scales of one dimension', () => {
    close(convertUnit(1, 'g/L', 'mg/dL'), 100);
    close(convertUnit(250, 'mg/dL', 'g/L'), 2.5);
    close(convertUnit(5.5, 'mmol/L', 'umol/L'), 5500);
    close(convertUnit(7.2, '10*9/L', '10*3/uL'), 7.2);
    close(convertUnit(7200, '/uL', '10*9/L'), 7.2);
    close(convertUnit(70, 'kg', '[lb_av]'), 154.3235835);
    close(convertUnit(180, 'cm', '[in_i]'), 70.8661417);
    close(convertUnit(120, 'mm[Hg]', 'kPa'), 15.998686);
    close(convertUnit(60, 'U/L', 'ukat/L'), 1);
    close(convertUnit(42, '%', '1'), 0.42);
    close(convertUnit(3, 'g/dL', 'g/L'), 30);
    close(convertUnit(2, 'mL/min/{1.73_m2}', 'L/h/{1.73_m2}'), 0.12);
    close(convertUnit(4.1, '10*6/uL', '10*12/L'), 4.1);
    close(convertUnit(15, '[IU]/L', 'm[IU]/mL'), 15);
    close(convertUnit(2, 'kg.m-2', 'g/cm2'), 0.2);
  });

  it('ignores annotations, which carry no dimension', () => {
    close(convertUnit(5, '{cells}/uL', '10*9/L'), 0.005);
    expect(parseUcum('{score}')).toEqual({ factor: 1, dims: {} });
  });

  it('converts temperatures only between plain temperature units', () => {
    close(convertUnit(37, 'Cel', '[degF]'), 98.6);
    close(convertUnit(98.6, '[degF]', 'Cel'), 37);
    close(convertUnit(0, 'Cel', 'K'), 273.15);
    close(convertUnit(1, 'Cel', 'K') , 274.15);
    expect(convertUnit(1, 'Cel/h', 'K/h')).toBeUndefined();
    close(convertUnit(3, 'K/h', 'mK/h'), 3000);
  });

  it('converts mass to amount only for analytes of known molar mass', () => {
    close(convertUnit(90, 'mg/dL', 'mmol/L', '2345-7'), 4.99567);
    close(convertUnit(5, 'mmol/L', 'mg/dL', '2345-7'), 90.078);
    close(convertUnit(1, 'mg/dL', 'umol/L', '2160-0'), 88.4017);
    close(convertUnit(200, 'mg/dL', 'mmol/L', '2093-3'), 5.17258);
    expect(convertUnit(90, 'mg/dL', 'mmol/L')).toBeUndefined();
    expect(convertUnit(90, 'mg/dL', 'mmol/L', '718-7')).toBeUndefined(); // hemoglobin: not listed
  });

  it('refuses conversions across dimensions, and units it does not know', () => {
    expect(convertUnit(1, 'mg/dL', 'mg')).toBeUndefined();
    expect(convertUnit(1, '[IU]/L', 'mg/L')).toBeUndefined();
    expect(convertUnit(1, 'mg/dL', 'mmol')).toBeUndefined();
    expect(convertUnit(1, 'furlongs', 'm')).toBeUndefined();
    expect(parseUcum('mg/(dL')).toBeUndefined();
    expect(parseUcum('')).toBeUndefined();
    expect(parseUcum('x'.repeat(100))).toBeUndefined();
  });

  it('treats an identical unit as no conversion, even an unknown one', () => {
    expect(convertUnit(3, 'widgets', 'widgets')).toBe(3);
  });
});
