import { describe, expect, it } from 'vitest';
import { fromUtf8, toBase64Url, utf8 } from '../crypto/index.js';
import { MAX_LOG_ENTRIES, MAX_LOG_FILE_BYTES } from './constants.js';
import { signEntry } from './entry.js';
import { GrantsError } from './errors.js';
import { decodeLogFile, encodeLogFile, exportLog, verifyLogFile, type LogFile } from './log-file.js';
import { HOUR, T0, newVault, party } from './testkit.js';
import { signTreeHead } from './tree-head.js';

const phone = party('phone');
const clinic = party('clinic');

async function smallLog(): Promise<{ file: LogFile; bytes: Uint8Array; text: string }> {
  const { writer, log } = await newVault(phone);
  const grant = await writer.append(phone, 'grant', { grantee: clinic.did, scopes: ['labs'], actions: ['read'], purpose: 'treatment', expires: null, keys: [] }, { ts: T0 + HOUR });
  await writer.append(clinic, 'access', { grant: grant.id, scope: 'labs', heads: [] }, { ts: T0 + 2 * HOUR });
  const file = await exportLog(log, { now: T0 + 3 * HOUR, signer: phone });
  const bytes = encodeLogFile(file);
  return { file, bytes, text: fromUtf8(bytes) };
}

function codeOf(bytes: Uint8Array): string {
  try {
    decodeLogFile(bytes);
    return 'OK';
  } catch (error) {
    if (error instanceof GrantsError) return error.code;
    throw error;
  }
}

const NOW = T0 + 5 * HOUR;

describe('the export file', () => {
  it('round-trips: decode(encode(file)) is the file, and it verifies with its tree head', async () => {
    const { file, bytes } = await smallLog();
    const decoded = decodeLogFile(bytes);
    expect(decoded).toEqual(file);
    expect(encodeLogFile(decoded)).toEqual(bytes);
    const { verdict } = await verifyLogFile(decoded, { now: NOW });
    expect(verdict).toMatchObject({ valid: true, size: 3 });
    expect(file.treeHeads).toHaveLength(1);
  });

  it('rejects a file larger than the limit before reading it (a 100 MB file)', () => {
    const huge = new Uint8Array(100 * 1024 * 1024);
    expect(huge.length).toBeGreaterThan(MAX_LOG_FILE_BYTES);
    expect(codeOf(huge)).toBe('FILE_TOO_LARGE');
  });

  it('tells a truncated file (cut anywhere) from a malformed one', async () => {
    const { bytes } = await smallLog();
    for (let cut = 0; cut < bytes.length - 1; cut += 7) expect(codeOf(bytes.subarray(0, cut))).toBe('TRUNCATED');
    expect(codeOf(utf8('{"format":"patient-vault/log",,}'))).toBe('BAD_JSON');
    expect(codeOf(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]))).toBe('BAD_JSON');
  });

  it('refuses another version of the file, and of an entry header inside it', async () => {
    const { text, file } = await smallLog();
    expect(codeOf(utf8(text.replace('"version":1', '"version":2')))).toBe('UNSUPPORTED_VERSION');
    // An entry whose header says v: 2, genuinely signed: refused by verification with its code.
    const { encodeCanonical } = await import('../crypto/index.js');
    const header = encodeCanonical({ v: 2, vault: null, author: phone.did, seq: 0, prev: null, deps: [], ts: T0, type: 'genesis', bodyHash: new Uint8Array(32) });
    const { sign } = await import('../crypto/index.js');
    const { entrySigningMessage, entryIdOf } = await import('./entry.js');
    const signature = await sign(phone, entrySigningMessage(header));
    const { verdict } = await verifyLogFile({ ...file, entries: [...file.entries, { header, signature }] }, { now: NOW });
    expect(verdict.problems).toContainEqual(expect.objectContaining({ code: 'UNSUPPORTED_VERSION', entry: entryIdOf(header, signature) }));
  });

  it('refuses a file that claims or holds 10^6 entries without allocating for them', () => {
    const claim = `{"format":"patient-vault/log","version":1,"vault":"${'A'.repeat(43)}","count":1000000,"entries":[],"treeHeads":[],"observedHeads":[]}`;
    expect(codeOf(utf8(claim))).toBe('TOO_MANY_ENTRIES');
    const many = `{"format":"patient-vault/log","version":1,"vault":"${'A'.repeat(43)}","count":${MAX_LOG_ENTRIES + 1},"entries":[${Array.from({ length: MAX_LOG_ENTRIES + 1 }, () => '{"h":"","s":""}').join(',')}],"treeHeads":[],"observedHeads":[]}`;
    expect(codeOf(utf8(many))).toBe('TOO_MANY_ENTRIES');
  });

  it('refuses a count that does not match the entries (cut off or padded)', async () => {
    const { text } = await smallLog();
    expect(codeOf(utf8(text.replace('"count":3', '"count":4')))).toBe('COUNT_MISMATCH');
    expect(codeOf(utf8(text.replace('"count":3', '"count":2')))).toBe('COUNT_MISMATCH');
  });

  it('refuses deep nesting without recursing (100,000 levels)', () => {
    expect(codeOf(utf8(`${'['.repeat(100_000)}${']'.repeat(100_000)}`))).toBe('TOO_DEEP');
    const nested = `{"format":"patient-vault/log","version":1,"vault":"${'A'.repeat(43)}","count":1,"entries":[{"h":[[[[1]]]],"s":""}],"treeHeads":[],"observedHeads":[]}`;
    expect(codeOf(utf8(nested))).toBe('TOO_DEEP');
  });

  it('refuses other encodings of the same file: whitespace, number forms, escapes, padded base64', async () => {
    const { text, file } = await smallLog();
    expect(codeOf(utf8(JSON.stringify(JSON.parse(text), null, 2)))).toBe('BAD_FORMAT');
    expect(codeOf(utf8(text.replace('"version":1', '"version":1.0')))).toBe('BAD_FORMAT');
    expect(codeOf(utf8(text.replace('"format":"patient-vault/log"', '"format":"patient-vault\\/log"')))).toBe('BAD_FORMAT');
    expect(codeOf(utf8(`${text}\n`))).toBe('BAD_FORMAT');
    const sig = toBase64Url(file.entries[0]!.signature);
    expect(codeOf(utf8(text.replace(sig, `${sig}==`)))).toBe('BAD_FORMAT');
    // The last base64url digit of a 64-byte signature carries 4 unused bits; setting one is another encoding.
    const last = sig.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const other = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(codeOf(utf8(text.replace(sig, sig.slice(0, -1) + other)))).toBe('BAD_FORMAT');
  });

  it('refuses JSON that is not a log: wrong format, unknown or missing fields, wrong kinds', async () => {
    const { text } = await smallLog();
    expect(codeOf(utf8('[]'))).toBe('BAD_FORMAT');
    expect(codeOf(utf8('"log"'))).toBe('BAD_FORMAT');
    expect(codeOf(utf8(text.replace('"format":"patient-vault/log"', '"format":"other/log"')))).toBe('BAD_FORMAT');
    expect(codeOf(utf8(text.replace('"observedHeads":[]', '"observedHeads":[],"extra":1')))).toBe('BAD_FORMAT');
    expect(codeOf(utf8(text.replace(',"observedHeads":[]', '')))).toBe('BAD_FORMAT');
    expect(codeOf(utf8(text.replace('{"h":', '{"x":1,"h":')))).toBe('BAD_FORMAT');
    expect(codeOf(utf8(text.replace('"count":3', '"count":"3"')))).toBe('BAD_FORMAT');
    expect(codeOf(utf8(text.replace(/"vault":"[^"]+"/, '"vault":"nope"')))).toBe('BAD_FORMAT');
    expect(codeOf(utf8(''))).toBe('TRUNCATED');
  });

  it('verifies a file whose entry has an unknown type as a problem of that entry (UNKNOWN_TYPE)', async () => {
    const { file } = await smallLog();
    const { encodeCanonical, sign } = await import('../crypto/index.js');
    const { entrySigningMessage, entryIdOf } = await import('./entry.js');
    const header = encodeCanonical({ v: 1, vault: new Uint8Array(32), author: phone.did, seq: 9, prev: new Uint8Array(32), deps: [], ts: T0, type: 'teleport', bodyHash: new Uint8Array(32) });
    const signature = await sign(phone, entrySigningMessage(header));
    const { verdict } = await verifyLogFile({ ...file, entries: [...file.entries, { header, signature }] }, { now: NOW });
    expect(verdict.problems).toEqual([expect.objectContaining({ code: 'UNKNOWN_TYPE', entry: entryIdOf(header, signature) })]);
  });

  it('verifies a deeply nested or oversized body as a problem of its entry, without crashing', async () => {
    const { file } = await smallLog();
    const decoded = decodeLogFile(encodeLogFile(file));
    const deep = new Uint8Array(20_001).fill(0x81);
    deep[20_000] = 0;
    const big = new Uint8Array(70_000);
    const vault = decoded.vault;
    const { decodeHeader } = await import('./entry.js');
    const last = decodeHeader(decoded.entries[2]!.header);
    const extra: Awaited<ReturnType<typeof signEntry>>[] = [];
    for (const [i, body] of [deep, big].entries()) {
      extra.push(
        await signEntry(phone, { vault, author: phone.did, seq: 2 + i, prev: i === 0 ? (decoded.vault as string as never) : extra[0]!.id, deps: [], ts: last.ts + 1 + i, type: 'consent' }, body),
      );
    }
    const { verdict } = await verifyLogFile({ ...decoded, entries: [...decoded.entries, ...extra] }, { now: NOW });
    const codes = verdict.problems.map((p) => [p.code, p.entry]);
    expect(codes).toContainEqual(['NON_CANONICAL', extra[0]!.id]);
    expect(codes).toContainEqual(['ENTRY_TOO_LARGE', extra[1]!.id]);
  });

  it('reports a tree head that does not match the file\u2019s entries, and one of another signer\u2019s fork', async () => {
    const { file } = await smallLog();
    const dropped = { ...file, entries: file.entries.slice(0, 2) };
    expect((await verifyLogFile(dropped, { now: NOW })).verdict.problems.map((p) => p.code)).toEqual(['TREE_HEAD_MISMATCH']);
    const reordered = { ...file, entries: [file.entries[0]!, file.entries[2]!, file.entries[1]!] };
    expect((await verifyLogFile(reordered, { now: NOW })).verdict.problems).toEqual([expect.objectContaining({ code: 'BAD_ORDER', entry: expect.any(String) })]);
    const { sha256 } = await import('../crypto/index.js');
    const forkHead = await signTreeHead(phone, { vault: file.vault, size: 3, root: sha256(utf8('other')), ts: T0 });
    const forked = { ...file, observedHeads: [forkHead] };
    const { verdict } = await verifyLogFile(forked, { now: NOW });
    expect(verdict.problems.map((p) => p.code)).toEqual(['FORK']);
    expect(verdict.forks[0]!.heads).toHaveLength(2);
    const badHead = { ...file, treeHeads: [{ ...file.treeHeads[0]!, signature: new Uint8Array(64) }] };
    expect((await verifyLogFile(badHead, { now: NOW })).verdict.problems.map((p) => p.code)).toEqual(['BAD_TREE_HEAD']);
  });
});
