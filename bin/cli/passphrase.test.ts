import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from './io.js';
import { HiddenLineEditor, PassphraseError, checkNewPassphrase, readPassphrase, type PassphraseSource } from './passphrase.js';

function typed(...chunks: string[]) {
  const editor = new HiddenLineEditor();
  let state = editor.feed('');
  for (const chunk of chunks) state = editor.feed(chunk);
  return state;
}

describe('no-echo passphrase line editor', () => {
  it('ends the line at Enter, whether CR or LF, and ignores what follows', () => {
    expect(typed('hunter2\r')).toEqual({ status: 'done', line: 'hunter2' });
    expect(typed('hun', 'ter2\nmore')).toEqual({ status: 'done', line: 'hunter2' });
    expect(typed('no enter yet')).toEqual({ status: 'reading' });
  });

  it('removes a whole character on Backspace or DEL, even an emoji, and clears on Ctrl-U', () => {
    expect(typed('abc\u007f\u007fd\r')).toEqual({ status: 'done', line: 'ad' });
    expect(typed('x\u{1F510}\b\r')).toEqual({ status: 'done', line: 'x' });
    expect(typed('\u007f\u007fok\r')).toEqual({ status: 'done', line: 'ok' });
    expect(typed('wrong start\u0015right\r')).toEqual({ status: 'done', line: 'right' });
  });

  it('keeps arrow keys, function keys and paste markers out of the passphrase', () => {
    expect(typed('ab\u001b[Dc\u001b[1;5C\u001bOPd\r')).toEqual({ status: 'done', line: 'abcd' });
    expect(typed('\u001b[200~pasted\u001b[201~\r')).toEqual({ status: 'done', line: 'pasted' });
    expect(typed('tab\there\u0000\r')).toEqual({ status: 'done', line: 'tabhere' });
  });

  it('cancels on Ctrl-C, and on Ctrl-D at an empty line', () => {
    expect(typed('secret\u0003')).toEqual({ status: 'cancelled' });
    expect(typed('\u0004')).toEqual({ status: 'cancelled' });
    expect(typed('a\u0004b\r')).toEqual({ status: 'done', line: 'ab' });
  });

  it('keeps non-ASCII passphrases exactly', () => {
    expect(typed('pâté-Ω-\u{1F600}-日本\r')).toEqual({ status: 'done', line: 'pâté-Ω-\u{1F600}-日本' });
  });
});

describe('where the passphrase comes from', () => {
  const notATerminal = (env: NodeJS.ProcessEnv): PassphraseSource => ({ env, input: new PassThrough(), output: new PassThrough() });

  it('takes PVAULT_PASSPHRASE when set, without touching the terminal', async () => {
    expect(await readPassphrase({ prompt: 'p: ', confirm: 'again: ', source: notATerminal({ PVAULT_PASSPHRASE: 'from the env' }) })).toBe('from the env');
  });

  it('refuses an empty PVAULT_PASSPHRASE as bad input', async () => {
    const error = await readPassphrase({ prompt: 'p: ', source: notATerminal({ PVAULT_PASSPHRASE: '' }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PassphraseError);
    expect((error as PassphraseError).code).toBe('PASSPHRASE_EMPTY');
  });

  it('is a usage error when there is neither the variable nor a terminal', async () => {
    const error = await readPassphrase({ prompt: 'p: ', source: notATerminal({}) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain('PVAULT_PASSPHRASE');
  });

  it('asks for at least 8 characters in a new passphrase', () => {
    expect(() => checkNewPassphrase('short')).toThrow(PassphraseError);
    expect(() => checkNewPassphrase('\u{1F600}'.repeat(7))).toThrow(PassphraseError);
    expect(() => checkNewPassphrase('12345678')).not.toThrow();
  });
});
