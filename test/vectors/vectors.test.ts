import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const README = readFileSync(join(HERE, 'README.md'), 'utf8');

function vectorFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return vectorFiles(path);
    return name.endsWith('.json') ? [relative(HERE, path)] : [];
  });
}

/** `file → sha256` for every file README.md says was copied verbatim (those it gives a checksum). */
function recordedChecksums(): Map<string, string> {
  const out = new Map<string, string>();
  let dir = '';
  for (const line of README.split('\n')) {
    const heading = /^## (\S+)\/$/.exec(line);
    if (heading) dir = heading[1]!;
    const file = /^- \*\*`([^`]+)`\*\*/.exec(line);
    if (file) out.set(`${dir}/${file[1]!}`, '');
  }
  // The checksum of a file is the first 64-hex string after its bullet and before the next one.
  for (const [path] of out) {
    const name = path.split('/')[1]!;
    const start = README.indexOf(`**\`${name}\`**`);
    const next = README.indexOf('\n- **', start + 1);
    const section = README.slice(start, next === -1 ? undefined : next);
    const sum = /sha256\s+`([0-9a-f]{64})`/.exec(section);
    out.set(path, sum ? sum[1]! : '');
  }
  return out;
}

/** Folders that document their own origin (an ORIGIN.md or README.md inside them). */
function selfDocumented(): Set<string> {
  return new Set(
    readdirSync(HERE).filter((name) => {
      const dir = join(HERE, name);
      return statSync(dir).isDirectory() && ['ORIGIN.md', 'README.md'].some((doc) => readdirSync(dir).includes(doc));
    }),
  );
}

describe('test/vectors', () => {
  const own = selfDocumented();
  const files = vectorFiles(HERE).filter((path) => !own.has(path.split('/')[0]!));
  const recorded = recordedChecksums();

  it('every vector file has its origin in README.md (or in an ORIGIN.md of its folder), and every origin its file', () => {
    expect(files.sort()).toEqual([...recorded.keys()].sort());
  });

  it.each([...recorded].filter(([, sum]) => sum !== ''))('%s is byte for byte the copy README.md records', (path, sum) => {
    expect(createHash('sha256').update(readFileSync(join(HERE, path))).digest('hex')).toBe(sum);
  });

  it('every file parses as JSON', () => {
    for (const path of files) expect(() => JSON.parse(readFileSync(join(HERE, path), 'utf8')) as unknown).not.toThrow();
  });
});
