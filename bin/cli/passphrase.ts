import { StringDecoder } from 'node:string_decoder';
import { UsageError } from './io.js';

/** The environment variable a passphrase may come from (ARCHITECTURE.md "Command line"). */
export const PASSPHRASE_ENV = 'PVAULT_PASSPHRASE';
/** The shortest passphrase `pvault init` accepts for a new vault. */
export const MIN_NEW_PASSPHRASE_LENGTH = 8;

/** A bad passphrase typed or given (exit 1, like all bad input). */
export class PassphraseError extends Error {
  override readonly name = 'PassphraseError';
  constructor(
    readonly code: 'PASSPHRASE_MISMATCH' | 'PASSPHRASE_TOO_SHORT' | 'PASSPHRASE_EMPTY',
    message: string,
  ) {
    super(message);
  }
}

/** What the prompt reads from and writes to: a terminal (process.stdin / process.stderr). */
export interface PromptStreams {
  readonly input: NodeJS.ReadableStream & { isTTY?: boolean; isRaw?: boolean; setRawMode?: (mode: boolean) => unknown };
  readonly output: NodeJS.WritableStream;
}

/** Where the passphrase may come from. */
export interface PassphraseSource extends PromptStreams {
  readonly env: NodeJS.ProcessEnv;
}

const processSource = (): PassphraseSource => ({ env: process.env, input: process.stdin, output: process.stderr });

/**
 * The passphrase from PVAULT_PASSPHRASE, else asked on the terminal without echo (twice when
 * `confirm` is set, as for a new vault). Neither available: a usage error (exit 2) saying how to
 * give one. Typed twice differently: `PASSPHRASE_MISMATCH` (exit 1).
 */
export async function readPassphrase(options: { prompt: string; confirm?: string; source?: PassphraseSource }): Promise<string> {
  const source = options.source ?? processSource();
  const fromEnv = source.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined) {
    if (fromEnv.length === 0) throw new PassphraseError('PASSPHRASE_EMPTY', `${PASSPHRASE_ENV} is set but empty`);
    return fromEnv;
  }
  if (source.input.isTTY !== true || typeof source.input.setRawMode !== 'function') {
    throw new UsageError(`no passphrase: set ${PASSPHRASE_ENV}, or run in a terminal to be asked for it`);
  }
  const first = await readHiddenLine(source, options.prompt);
  if (first.length === 0) throw new PassphraseError('PASSPHRASE_EMPTY', 'the passphrase is empty');
  if (options.confirm !== undefined) {
    const second = await readHiddenLine(source, options.confirm);
    if (second !== first) throw new PassphraseError('PASSPHRASE_MISMATCH', 'the two passphrases typed differ; nothing was created');
  }
  return first;
}

/** Checks a new vault's passphrase (length only; strength advice belongs to the UI). */
export function checkNewPassphrase(passphrase: string): void {
  if ([...passphrase].length < MIN_NEW_PASSPHRASE_LENGTH) {
    throw new PassphraseError('PASSPHRASE_TOO_SHORT', `the passphrase must have at least ${MIN_NEW_PASSPHRASE_LENGTH} characters`);
  }
}

/** Result of feeding typed text to a {@link HiddenLineEditor}. */
export type EditorState = { readonly status: 'reading' } | { readonly status: 'done'; readonly line: string } | { readonly status: 'cancelled' };

/**
 * The keys of a no-echo prompt, as a raw-mode terminal delivers them: Enter ends the line,
 * Backspace/DEL removes the last character (a whole code point), Ctrl-U clears, Ctrl-C cancels,
 * Ctrl-D cancels an empty line; escape sequences (arrow keys, function keys, bracketed paste
 * markers) and other control characters are dropped, never added to the passphrase.
 */
export class HiddenLineEditor {
  #chars: string[] = [];
  #escape: 'none' | 'esc' | 'csi' = 'none';

  feed(text: string): EditorState {
    for (const ch of text) {
      if (this.#escape === 'esc') {
        // ESC [ starts a CSI sequence; ESC O an SS3 one (one more char); anything else ends here.
        this.#escape = ch === '[' ? 'csi' : ch === 'O' ? 'csi' : 'none';
        continue;
      }
      if (this.#escape === 'csi') {
        // A CSI sequence ends with a final byte in @..~ (ECMA-48 §5.4).
        if (ch >= '@' && ch <= '~') this.#escape = 'none';
        continue;
      }
      switch (ch) {
        case '\r':
        case '\n':
          return { status: 'done', line: this.#chars.join('') };
        case '\u0003':
          return { status: 'cancelled' };
        case '\u0004':
          if (this.#chars.length === 0) return { status: 'cancelled' };
          continue;
        case '\u007f':
        case '\b':
          this.#chars.pop();
          continue;
        case '\u0015':
          this.#chars = [];
          continue;
        case '\u001b':
          this.#escape = 'esc';
          continue;
        default:
          if (ch < ' ') continue;
          this.#chars.push(ch);
      }
    }
    return { status: 'reading' };
  }
}

/**
 * Reads one line from a terminal in raw mode, so nothing typed is echoed. The terminal's mode is
 * restored however the read ends.
 */
export function readHiddenLine(streams: PromptStreams, prompt: string): Promise<string> {
  const { input, output } = streams;
  const setRawMode = input.setRawMode;
  if (typeof setRawMode !== 'function') return Promise.reject(new UsageError('cannot prompt: standard input is not a terminal'));
  return new Promise((resolve, reject) => {
    const editor = new HiddenLineEditor();
    // A chunk may end inside a multi-byte character; the decoder carries it to the next one.
    const decoder = new StringDecoder('utf8');
    const wasRaw = input.isRaw === true;
    const finish = (result: () => void) => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      setRawMode.call(input, wasRaw);
      input.pause();
      output.write('\n');
      result();
    };
    const onData = (chunk: Buffer | string) => {
      const state = editor.feed(typeof chunk === 'string' ? chunk : decoder.write(chunk));
      if (state.status === 'done') finish(() => resolve(state.line));
      else if (state.status === 'cancelled') finish(() => reject(new UsageError('cancelled at the passphrase prompt; nothing was changed')));
    };
    const onEnd = () => finish(() => reject(new UsageError('standard input closed at the passphrase prompt; nothing was changed')));
    // Raw mode before the prompt: whatever is typed once the prompt shows is never echoed, even if
    // this process is descheduled between the two calls (seen on a loaded machine).
    setRawMode.call(input, true);
    output.write(prompt);
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}
