import { open, readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import {
  MAX_IMPORT_BYTES,
  RecordsError,
  TrustedIssuers,
  decodeQrImageAsync,
  imageKind,
  parseImport,
  type CardReport,
  type ImportProblem,
  type ImportedResource,
} from '../../../src/records/index.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_BAD_INPUT, EXIT_OK, UsageError, type Command, type CommandIo } from '../io.js';
import { PASSPHRASE_ENV } from '../passphrase.js';
import { openRecords, reportError, vaultDir } from './records-vault.js';

const HELP = `Usage: pvault import FILE… --vault DIR [--trust JWKS_FILE]… [--partial] [--allow-unverified]

Imports health records into the vault: FHIR R4 JSON (one resource, or a Bundle of type collection,
document, transaction, batch or searchset), SMART Health Cards (.smart-health-card files, a raw JWS,
shc:/ QR text, also chunked) and PNG/JPEG images of a health card QR code. The QR codes of a
chunked card (shc:/1/3/…, shc:/2/3/…) may each be a file of its own, text or image, in any order.

Every file is read and validated first. By default the import is all or nothing: if any file or
entry is bad, nothing is imported and every problem is listed (entry and rule). The same record
imported again is not duplicated; a changed one becomes a new version.

Options:
  --vault DIR            the vault (required; create it with 'pvault init')
  --trust JWKS_FILE      trust the health-card issuer keys in this JWKS file (repeatable): the
                         file an issuer publishes at ISS/.well-known/jwks.json, saved as it is;
                         each of its keys then belongs to the first issuer whose card it
                         verifies in this vault, now and in later imports (a card of another
                         issuer signed with it is not verified).
                         Add "iss": "https://…" to the file to bind its keys to that issuer
                         from the start; a JSON array of such files' contents trusts several
  --partial              import the valid part and report the rest
  --allow-unverified     import health cards whose issuer is not trusted, marked unverified
  -h, --help             show this help

Prints how many records each scope gained, and the verification status of each health card.
The passphrase comes from ${PASSPHRASE_ENV}, else it is asked on the terminal without echo.
Exit codes: 0 imported, 1 bad input or data (nothing imported, or with --partial: part of it),
2 wrong usage.
`;

/**
 * What one parseImport call reads: a file, or the files holding the chunks of one chunked card
 * (`path` and `name` then list them all, joined by ' + ').
 */
interface ImportUnit {
  path: string;
  name: string;
  input: Uint8Array | string;
  /** Why the file's image could not be read (reported as parseImport would, without reading it again). */
  unreadable?: Error;
}

interface FileResult {
  file: string;
  resources: ImportedResource[];
  problems: ImportProblem[];
  cards: CardReport[];
}

/** `pvault import FILE… --vault DIR`: validates every file, then stores all resources in one write. */
export const run: Command = async (argv, io) => {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      vault: { type: 'string' },
      trust: { type: 'string', multiple: true },
      partial: { type: 'boolean' },
      'allow-unverified': { type: 'boolean' },
    },
    true,
  );
  if (values.help === true) {
    io.stdout(HELP);
    return EXIT_OK;
  }
  const dir = vaultDir(values.vault);
  if (positionals.length === 0) throw new UsageError('give at least one FILE to import');
  const partial = values.partial === true;
  const now = new Date();

  let trust: TrustedIssuers | undefined;
  for (const file of values.trust ?? []) {
    trust ??= new TrustedIssuers();
    try {
      const text = await readTrustFile(file);
      if (typeof text === 'number') return fail(io, `${file}: ${text} bytes, over the ${TrustedIssuers.MAX_TRUST_FILE_BYTES}-byte limit of a trust file (a JWKS is a few KiB); nothing was imported [SHC_BAD_JWKS]`);
      trust.addTrustDocument(JSON.parse(text) as unknown);
    } catch (error) {
      if (error instanceof SyntaxError) return fail(io, `${file}: not JSON (a JWKS file is expected) [SHC_BAD_JWKS]`);
      if (isFileError(error)) return fail(io, `${file}: cannot read the trust file (${error.code}) [FILE_UNREADABLE]`);
      return reportError(io, 'import', file, error);
    }
  }

  let records;
  try {
    records = await openRecords(dir);
  } catch (error) {
    return reportError(io, 'import', dir, error);
  }
  try {
    // Keys given without "iss" keep the issuer they first verified in this vault, across runs.
    if (trust) {
      const saved = await records.vault.getSealed(KEY_BINDINGS_KEY);
      if (saved) trust.restoreBindings(JSON.parse(new TextDecoder().decode(saved)) as unknown);
    }
    const boundBefore = new Set(trust?.keyBindings().map((b) => b.kid));
    const progress = progressBar();
    // 1. Read every file, then validate each unit (a file, or the files of one chunked card);
    //    nothing is written yet.
    const files: { path: string; bytes: Uint8Array }[] = [];
    for (const file of positionals) {
      try {
        const info = await stat(file);
        if (!info.isFile()) return fail(io, `${file}: not a file [FILE_UNREADABLE]`);
        if (info.size > MAX_IMPORT_BYTES) return fail(io, `${file}: ${info.size} bytes, over the ${MAX_IMPORT_BYTES}-byte limit; nothing was imported [FILE_TOO_LARGE]`);
        files.push({ path: file, bytes: new Uint8Array(await readFile(file)) });
      } catch (error) {
        if (isFileError(error)) return fail(io, `${file}: cannot read it (${error.code}); nothing was imported [FILE_UNREADABLE]`);
        throw error;
      }
    }
    const units = await importUnits(files);
    const results: FileResult[] = [];
    // A relative `Type/id` naming a resource of an earlier file of this run resolves to it, as it
    // would had that file been imported first.
    const earlier = new Map<string, string>();
    const resolveReference = (reference: string): string | undefined => records.store.resolveReference(reference) ?? earlier.get(`id:${reference}`);
    for (const [i, { path: file, name, input, unreadable }] of units.entries()) {
      const label = units.length > 1 ? `${name} (${i + 1}/${units.length})` : name;
      try {
        if (unreadable !== undefined) throw unreadable;
        const parsed = await parseImport(input, {
          fileName: name,
          now,
          partial,
          ...(trust ? { trust } : {}),
          ...(values['allow-unverified'] === true ? { allowUnverified: true } : {}),
          resolveReference,
          onProgress: (done, total) => progress?.(`validating ${label}`, done, total),
        });
        results.push({ file, ...parsed });
        for (const r of parsed.resources) for (const a of r.aliases ?? []) earlier.set(a, `${r.resource.resourceType}/${r.resource.id}`);
      } catch (error) {
        progress?.('', 0, 0);
        if (partial && error instanceof RecordsError) {
          // The file as a whole is unusable (e.g. not JSON); the other files still count.
          results.push({ file, resources: [], cards: [], problems: [{ entry: 'file', rule: error.code, message: error.message }, ...error.problems] });
          continue;
        }
        if (error instanceof RecordsError) {
          io.stderr(`pvault import: ${file}: ${error.message} [${error.code}]`);
          // A refusal of the file as a whole (its one problem is the message): said once, and
          // --partial would not help.
          const whole = error.problems.length === 1 && error.message.endsWith(error.problems[0]!.message) && WHOLE_FILE_RULES.has(error.problems[0]!.rule);
          if (whole) io.stderr(`  ${error.problems[0]!.entry}: ${error.problems[0]!.rule}`);
          else printProblems(io, error.problems);
          if (error.code === 'SHC_UNTRUSTED_ISSUER') io.stderr(UNTRUSTED_HINT);
          io.stderr(whole ? 'Nothing was imported.' : 'Nothing was imported. Fix the file, or use --partial to import the valid part.');
          return EXIT_BAD_INPUT;
        }
        throw error;
      }
    }

    // 2. Store everything in one atomic write.
    const all = results.flatMap((r) => r.resources);
    const result = await records.store.importResources(all, { onProgress: (done, total) => progress?.('storing', done, total) });
    progress?.('', 0, 0);
    const bindings = trust?.keyBindings() ?? [];
    const boundNow = bindings.filter((b) => !boundBefore.has(b.kid));
    if (boundNow.length > 0) await records.vault.batchSealed([{ type: 'put', key: KEY_BINDINGS_KEY, value: new TextEncoder().encode(JSON.stringify(bindings)) }]);

    const totals = Object.values(result.counts).reduce((t, c) => ({ added: t.added + c.added, updated: t.updated + c.updated, unchanged: t.unchanged + c.unchanged }), {
      added: 0,
      updated: 0,
      unchanged: 0,
    });
    const lines = [`imported ${all.length} resource${all.length === 1 ? '' : 's'} from ${positionals.length} file${positionals.length === 1 ? '' : 's'}: ${totals.added} added, ${totals.updated} updated, ${totals.unchanged} unchanged`];
    for (const [scope, c] of Object.entries(result.counts)) lines.push(`  ${scope.padEnd(14)} ${c.added} added, ${c.updated} updated, ${c.unchanged} unchanged`);
    const cards = results.flatMap((r, i) => r.cards.map((card) => ({ file: units[i]!.name, card })));
    if (cards.length > 0) {
      lines.push('health cards:');
      cards.forEach(({ file, card }, i) => {
        const status = card.verified ? 'verified' : `NOT verified${card.reason ? ` (${card.reason})` : ''}`;
        lines.push(`  card ${i + 1} in ${file}: issuer ${card.issuer || '(unreadable)'} — ${status}, ${card.resourceCount} resource${card.resourceCount === 1 ? '' : 's'}`);
      });
      // Keys given without "iss" took the issuer of the first card they verified: say so, since
      // that is the file's only claim to who the issuer is.
      const bound = [...new Set(boundNow.map((b) => b.iss))];
      if (bound.length > 0) lines.push(`(keys from a --trust file without "iss" were taken as those of ${bound.join(', ')}, the first issuer whose card they verified)`);
    }
    io.stdout(lines.join('\n'));
    const problems = results.flatMap((r, i) => r.problems.map((p) => ({ ...p, entry: `${units[i]!.name} ${p.entry}` })));
    if (problems.length > 0) {
      io.stderr(`pvault import: ${problems.length} problem${problems.length === 1 ? '' : 's'} not imported (--partial):`);
      printProblems(io, problems);
      if (problems.some((p) => p.rule === 'SHC_UNTRUSTED_ISSUER')) io.stderr(UNTRUSTED_HINT);
      return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
  } catch (error) {
    return reportError(io, 'import', dir, error);
  } finally {
    await records.close();
  }
};

/** Rules that refuse a whole file (no valid part for --partial to import). */
const WHOLE_FILE_RULES = new Set(['UNSUPPORTED_BUNDLE_TYPE']);

/** Where the issuer bindings of bare trusted keys are kept in the vault (sealed, beside the records). */
const KEY_BINDINGS_KEY = 'cli/shc-key-bindings';

const UNTRUSTED_HINT = "Give the issuer's keys with --trust JWKS_FILE, or import the card marked unverified with --allow-unverified.";

/** `shc:/C/N/digits`: one QR code of a card split into N (SMART Health Cards, "Chunking"). */
const QR_CHUNK = /^shc:\/(\d{1,3})\/(\d{1,3})\/\d+$/i;
/** A chunk is at most 1,191 JWS characters, two digits each: anything much longer is not one. */
const MAX_CHUNK_TEXT = 4096;

/**
 * What a file gives parseImport: an image's QR text, decoded here once (an SVG can take seconds to
 * draw), else the bytes as read. Throws what decoding the image throws.
 */
async function fileInput(bytes: Uint8Array): Promise<Uint8Array | string> {
  return imageKind(bytes) ? decodeQrImageAsync(bytes) : bytes;
}

/** The `shc:/C/N/…` text of an input that is one QR chunk, and its chunk count. */
function chunkOf(input: Uint8Array | string): { text: string; total: string } | undefined {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    if (input.length > MAX_CHUNK_TEXT) return undefined;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      return undefined;
    }
  }
  const m = QR_CHUNK.exec(text.trim());
  return m ? { text: text.trim(), total: m[2]! } : undefined;
}

/**
 * The units parseImport reads, in the order of the files: each file on its own, except that files
 * holding one QR chunk each are read together, grouped by their chunk count — a portal or a phone
 * hands out a chunked card as N separate codes. (Chunks of two cards with the same count, in one
 * command, cannot be told apart: parseImport then reports a chunk given twice.)
 */
async function importUnits(files: readonly { path: string; bytes: Uint8Array }[]): Promise<ImportUnit[]> {
  const units: (ImportUnit | { total: string; chunks: { path: string; text: string }[] })[] = [];
  const groups = new Map<string, { total: string; chunks: { path: string; text: string }[] }>();
  for (const { path, bytes } of files) {
    let input: Uint8Array | string;
    try {
      input = await fileInput(bytes);
    } catch (error) {
      units.push({ path, name: basename(path), input: bytes, unreadable: error instanceof Error ? error : new Error('the image could not be read') });
      continue;
    }
    const chunk = chunkOf(input);
    if (!chunk) {
      units.push({ path, name: basename(path), input });
      continue;
    }
    let group = groups.get(chunk.total);
    if (!group) {
      group = { total: chunk.total, chunks: [] };
      groups.set(chunk.total, group);
      units.push(group);
    }
    group.chunks.push({ path, text: chunk.text });
  }
  return units.map((u) =>
    'chunks' in u
      ? {
          path: u.chunks.map((c) => c.path).join(' + '),
          name: u.chunks.map((c) => basename(c.path)).join(' + '),
          input: u.chunks.map((c) => c.text).join('\n'),
        }
      : u,
  );
}

/**
 * The text of a trust file, or its size if over the limit (checked before reading it whole). A
 * leading byte order mark, as some editors save, is dropped.
 */
async function readTrustFile(file: string): Promise<string | number> {
  const handle = await open(resolve(file), 'r');
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    if (info.size > TrustedIssuers.MAX_TRUST_FILE_BYTES) return info.size;
    const bytes = new Uint8Array(TrustedIssuers.MAX_TRUST_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(bytes, length, bytes.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > TrustedIssuers.MAX_TRUST_FILE_BYTES) return length; // grew while read
    }
    const text = new TextDecoder().decode(bytes.subarray(0, length));
    return text.startsWith('\uFEFF') ? text.slice(1) : text;
  } finally {
    await handle.close();
  }
}

function printProblems(io: CommandIo, problems: readonly ImportProblem[]): void {
  for (const p of problems.slice(0, 50)) io.stderr(`  ${p.entry}: ${p.rule} — ${p.message}`);
  if (problems.length > 50) io.stderr(`  … and ${problems.length - 50} more`);
}

function fail(io: CommandIo, message: string): number {
  io.stderr(`pvault import: ${message}`);
  return EXIT_BAD_INPUT;
}

function isFileError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((error as NodeJS.ErrnoException).code!);
}

/**
 * A progress bar on stderr, redrawn in place, when stderr is a terminal (never in pipes or tests).
 * Call with an empty label to clear it.
 */
function progressBar(): ((label: string, done: number, total: number) => void) | undefined {
  if (process.stderr.isTTY !== true) return undefined;
  let last = '';
  return (label, done, total) => {
    if (label === '') {
      if (last) process.stderr.write('\r\x1b[2K');
      last = '';
      return;
    }
    const width = 30;
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(ratio * width);
    const line = `${label.slice(0, 40).padEnd(40)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
    if (line !== last) process.stderr.write(`\r\x1b[2K${line}`);
    last = line;
  };
}
