import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildFromInstalledPackages, DEFINITIONS_FILE } from './build-definitions.js';
import { ensureDefinitions, setDefinitionsLoader } from './definitions.js';
import { RecordsError } from '../errors.js';

describe('trimmed FHIR definitions', () => {
  it('the committed file is exactly what the build script makes from the installed packages', async () => {
    const committed = await readFile(DEFINITIONS_FILE, 'utf8');
    expect(await buildFromInstalledPackages()).toBe(committed);
  }, 60_000);

  it('is small: under 1 MiB raw and 64 KiB gzipped (the raw definitions are 37 MB)', async () => {
    const committed = await readFile(DEFINITIONS_FILE);
    expect(committed.length).toBeLessThan(1024 * 1024);
    expect(gzipSync(committed).length).toBeLessThan(64 * 1024);
  });

  it('refuses a file in another format with DEFINITIONS_UNAVAILABLE, and loads again once fixed', async () => {
    setDefinitionsLoader(() => Promise.resolve({ format: 'something-else' }));
    await expect(ensureDefinitions()).rejects.toMatchObject({ code: 'DEFINITIONS_UNAVAILABLE' });
    setDefinitionsLoader(() => Promise.reject(new Error('offline')));
    await expect(ensureDefinitions()).rejects.toBeInstanceOf(RecordsError);
    const good = JSON.parse(await readFile(DEFINITIONS_FILE, 'utf8')) as Record<string, unknown>;
    setDefinitionsLoader(() => Promise.resolve({ ...good, medplumVersion: '0.0.1' }));
    await expect(ensureDefinitions()).rejects.toMatchObject({ code: 'DEFINITIONS_UNAVAILABLE' });
    setDefinitionsLoader(() => Promise.resolve(good));
    const defs = await ensureDefinitions();
    expect(defs.allResourceTypes.has('Observation')).toBe(true);
    expect(defs.requiredCodes.get('http://hl7.org/fhir/ValueSet/observation-status|4.0.1')?.has('final')).toBe(true);
  });

  it('loads once: concurrent callers share one load', async () => {
    let calls = 0;
    const good = JSON.parse(await readFile(DEFINITIONS_FILE, 'utf8')) as unknown;
    setDefinitionsLoader(() => {
      calls++;
      return Promise.resolve(good);
    });
    const [a, b] = await Promise.all([ensureDefinitions(), ensureDefinitions()]);
    expect(a).toBe(b);
    await ensureDefinitions();
    expect(calls).toBe(1);
  });
});
