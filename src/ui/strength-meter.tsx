import type { ZxcvbnFactory, ZxcvbnResult } from '@zxcvbn-ts/core';
import { useEffect, useState } from 'preact/hooks';

let factory: Promise<ZxcvbnFactory> | undefined;
/**
 * zxcvbn with the common-language dictionaries, loaded on first use: the word lists are most of
 * the UI's weight, and only onboarding needs them (the popup and approval window never load them).
 */
export function loadEstimator(): Promise<ZxcvbnFactory> {
  factory ??= Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')]).then(
    ([core, common]) => new core.ZxcvbnFactory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs }),
  );
  return factory;
}

/** English for zxcvbn's warning keys (the package ships keys, not sentences). */
const WARNINGS: Readonly<Record<string, string>> = {
  straightRow: 'Straight rows of keys are easy to guess',
  keyPattern: 'Short keyboard patterns are easy to guess',
  simpleRepeat: 'Repeated characters like "aaa" are easy to guess',
  extendedRepeat: 'Repeated patterns like "abcabc" are easy to guess',
  sequences: 'Sequences like "abc" are easy to guess',
  recentYears: 'Recent years are easy to guess',
  dates: 'Dates are easy to guess',
  topTen: 'This is one of the most used passwords',
  topHundred: 'This is a very often used password',
  common: 'This is a commonly used password',
  similarToCommon: 'This is similar to a commonly used password',
  wordByItself: 'Single words are easy to guess',
  namesByThemselves: 'Names on their own are easy to guess',
  commonNames: 'Common names are easy to guess',
  userInputs: 'Avoid personal details',
  pwned: 'This password appeared in a data breach',
};

/** Seconds as a rough human duration. */
export function roughDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds >= 100 * 365.25 * 86400) return 'centuries';
  const units: [number, string][] = [
    [365.25 * 86400, 'year'],
    [30 * 86400, 'month'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  for (const [size, name] of units) {
    if (seconds >= size) {
      const n = Math.round(seconds / size);
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return 'less than a second';
}

/** A strength estimate: score 0–4 and its wording. */
export interface Strength {
  readonly score: 0 | 1 | 2 | 3 | 4;
  readonly label: string;
  readonly crackTime: string;
  readonly result?: ZxcvbnResult;
}

/** Score 0–4 and a wording, for a passphrase, with a loaded estimator. */
export function passphraseStrength(estimator: ZxcvbnFactory, passphrase: string): Strength {
  if (passphrase === '') return { score: 0, label: 'Empty', crackTime: '' };
  // zxcvbn is quadratic in length; beyond 100 characters the estimate does not change meaningfully.
  const result = estimator.check(passphrase.slice(0, 100));
  const labels = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'] as const;
  return { score: result.score, label: labels[result.score], crackTime: roughDuration(result.crackTimes.offlineSlowHashingXPerSecond.seconds), result };
}

/** The minimum score a new vault passphrase must reach. */
export const MIN_PASSPHRASE_SCORE = 3;

const COLOURS = ['#a1271d', '#a1271d', '#8a5a00', '#0b5d4b', '#0b5d4b'];

/** The strength of `passphrase`, once the estimator has loaded (score 0 until then). */
export function useStrength(passphrase: string): Strength & { ready: boolean } {
  const [estimator, setEstimator] = useState<ZxcvbnFactory>();
  useEffect(() => {
    let live = true;
    void loadEstimator().then((e) => live && setEstimator(e));
    return () => {
      live = false;
    };
  }, []);
  if (!estimator) return { score: 0, label: 'Checking…', crackTime: '', ready: false };
  return { ...passphraseStrength(estimator, passphrase), ready: true };
}

/** A strength meter tied to the passphrase field by `id`; `s` from {@link useStrength}. */
export function StrengthMeter({ passphrase, id, s }: { passphrase: string; id: string; s: Strength }) {
  const key = s.result?.feedback.warning;
  const warning = key ? WARNINGS[key] : undefined;
  return (
    <div id={id} aria-live="polite">
      <div class="meter" role="meter" aria-label="Passphrase strength" aria-valuemin={0} aria-valuemax={4} aria-valuenow={s.score} aria-valuetext={s.label}>
        <span style={{ width: `${((s.score + (passphrase ? 1 : 0)) / 5) * 100}%`, background: COLOURS[s.score] }} />
      </div>
      <p class="small">
        Strength: <strong>{s.label}</strong>
        {s.crackTime && <span class="muted"> — guessing it offline would take {s.crackTime}</span>}
        {warning ? <span class="muted">. {warning}</span> : null}
      </p>
    </div>
  );
}
