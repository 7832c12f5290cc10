/**
 * The two demo sites of `npm start` and the end-to-end test, on localhost (node:http, no
 * framework). Everything they serve is synthetic.
 *
 * - Example Hospital (patient portal): shows the patient's records and offers them to Patient
 *   Vault as a FHIR Bundle and as a SMART Health Card ("Save to Patient Vault"). The card is signed
 *   by a synthetic issuer, https://hospital.example.org/shc: the SHC spec requires an https
 *   issuer, and this demo runs on http://localhost, so the vault cannot fetch its keys and imports
 *   the card marked "signature not verified" — as it would any card from an issuer it cannot check.
 * - Example Clinic: an intake page that asks the patient to share (vault_requestShare), and a
 *   staff page for the clinic's own browser that lists what patients shared (vault_listShared,
 *   vault_getRecords). The clinic's identity (its did:key) is set on the staff page.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { generatePatientBundle } from '../test/fixtures/generator.js';

const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), 'public');

/** Options of {@link startDemoSites}. */
export interface DemoOptions {
  /** Port of Example Hospital; 0 picks a free one. @default 0 */
  readonly hospitalPort?: number;
  /** Port of Example Clinic; 0 picks a free one. @default 0 */
  readonly clinicPort?: number;
  /** Resources in the hospital's bundle. @default 120 */
  readonly resources?: number;
  /** Seed of the synthetic patient. @default 7 */
  readonly seed?: number;
  /** The clinic's did:key, if known in advance. */
  readonly clinicDid?: string;
  /** The relay's multiaddr the clinic's node is reachable through, if any. */
  readonly relay?: string;
}

/** One intake: what a patient's vault handed the clinic's intake page. */
export interface Intake {
  readonly patient: string;
  readonly invitation: string;
  readonly at: string;
}

/** Running demo sites. */
export interface DemoSites {
  readonly hospitalUrl: string;
  readonly clinicUrl: string;
  /** Whether the hospital offers a SMART Health Card (needs src/records/shc). */
  readonly healthCard: boolean;
  /** Intake submissions the clinic received: the patient's did and the one-time invitation to redeem. */
  readonly intakes: readonly Intake[];
  close(): Promise<void>;
}

/** Bundles by size, generated once per process (the generator is deterministic). */
const bundles = new Map<string, string>();
function bundleJson(resources: number, seed: number): string {
  const key = `${resources}/${seed}`;
  let json = bundles.get(key);
  if (!json) {
    json = JSON.stringify(generatePatientBundle({ resources, seed, attachmentEvery: 0 }).bundle);
    bundles.set(key, json);
  }
  return json;
}

/** Starts both sites. */
export async function startDemoSites(options: DemoOptions = {}): Promise<DemoSites> {
  const resources = options.resources ?? 120;
  const seed = options.seed ?? 7;
  const clinic = { did: options.clinicDid, name: 'Example Clinic', relay: options.relay };
  const intakes: Intake[] = [];

  const hospital = createServer((req, res) => void hospitalRoute(req, res).catch((e: unknown) => fail(res, e)));
  const hospitalUrl = await listen(hospital, options.hospitalPort ?? 0);
  const card = await healthCard(DEMO_ISSUER).catch(() => undefined);

  async function hospitalRoute(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', hospitalUrl);
    if (url.pathname === '/') return sendFile(res, 'hospital.html');
    if (url.pathname === '/site.css') return sendFile(res, 'site.css');
    if (url.pathname === '/records/bundle.json') {
      const n = Math.min(Math.max(Number(url.searchParams.get('resources') ?? resources) || resources, 10), 20_000);
      return send(res, 200, 'application/fhir+json', bundleJson(n, seed));
    }
    if (url.pathname === '/records/card.smart-health-card') {
      if (!card) return send(res, 404, 'text/plain', 'This demo build has no SMART Health Card support.');
      return send(res, 200, 'application/smart-health-card', card.file);
    }
    return send(res, 404, 'text/plain', 'Not found');
  }

  const clinicServer = createServer((req, res) => void clinicRoute(req, res).catch((e: unknown) => fail(res, e)));
  const clinicUrl = await listen(clinicServer, options.clinicPort ?? 0);

  async function clinicRoute(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', clinicUrl);
    if (url.pathname === '/') return sendFile(res, 'clinic.html');
    if (url.pathname === '/staff') return sendFile(res, 'clinic-staff.html');
    if (url.pathname === '/site.css') return sendFile(res, 'site.css');
    if (url.pathname === '/api/clinic' && req.method === 'GET') return send(res, 200, 'application/json', JSON.stringify(clinic));
    if (url.pathname === '/api/clinic' && req.method === 'POST') {
      const body = (await readJson(req)) as { did?: unknown };
      if (typeof body.did !== 'string' || !/^did:key:z[1-9A-HJ-NP-Za-km-z]{46,50}$/.test(body.did)) return send(res, 400, 'text/plain', 'expected { did: "did:key:…" }');
      clinic.did = body.did;
      return send(res, 200, 'application/json', JSON.stringify(clinic));
    }
    if (url.pathname === '/api/intake' && req.method === 'POST') {
      const body = (await readJson(req)) as { patient?: unknown; invitation?: unknown };
      if (typeof body.patient !== 'string' || typeof body.invitation !== 'string' || body.patient.length > 200 || !/^pvault:[A-Za-z0-9_-]{1,2000}$/.test(body.invitation)) {
        return send(res, 400, 'text/plain', 'expected { patient, invitation }');
      }
      if (intakes.length >= 1000) return send(res, 429, 'text/plain', 'too many intakes');
      intakes.push({ patient: body.patient, invitation: body.invitation, at: new Date().toISOString() });
      return send(res, 200, 'application/json', '{"ok":true}');
    }
    if (url.pathname === '/api/intake' && req.method === 'GET') return send(res, 200, 'application/json', JSON.stringify(intakes));
    return send(res, 404, 'text/plain', 'Not found');
  }

  return {
    hospitalUrl,
    clinicUrl,
    healthCard: card !== undefined,
    intakes,
    close: () => Promise.all([close(hospital), close(clinicServer)]).then(() => undefined),
  };
}

/** The synthetic issuer of the demo card (see the module comment). */
export const DEMO_ISSUER = 'https://hospital.example.org/shc';

/** A synthetic vaccination card signed by a fresh issuer key whose `iss` is `issuer`. */
async function healthCard(issuer: string): Promise<{ file: string; jwks: unknown }> {
  const shc = await import('../test/fixtures/shc-issuer.js');
  const key = await shc.createIssuer(issuer);
  const jws = await shc.signHealthCard(key, shc.shcBundle(2, 7));
  return { file: shc.healthCardFile([jws]), jwks: key.jwks };
}

const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', css: 'text/css; charset=utf-8' };

/**
 * Serves a file of public/. An HTML page's inline scripts are allowed by their SHA-256 in its CSP
 * and nothing else is: the extension's page API must work under a strict policy.
 */
async function sendFile(res: ServerResponse, name: string) {
  const body = await withIncludes(await readFile(join(PUBLIC, name), 'utf8'));
  const hashes = [...body.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`);
  send(res, 200, TYPES[name.split('.').pop() ?? ''] ?? 'application/octet-stream', body, {
    'content-security-policy': `default-src 'self'; script-src ${hashes.length ? hashes.join(' ') : "'none'"}; img-src 'self' data:; style-src 'self'`,
  });
}

/**
 * Expands `<!--#include NAME key="value" … -->` with public/partials/NAME, where `{{key}}` is the
 * value, HTML-escaped: the pages share their header and the extension discovery script this way
 * (inlined, so the CSP hashes below still cover every script).
 */
async function withIncludes(html: string): Promise<string> {
  const out: string[] = [];
  let last = 0;
  for (const m of html.matchAll(/<!--#include ([a-z-]+\.html)((?: [a-z]+="[^"]*")*) -->/g)) {
    const vars = new Map([...m[2]!.matchAll(/ ([a-z]+)="([^"]*)"/g)].map((v) => [v[1]!, escapeHtml(v[2]!)]));
    const partial = await readFile(join(PUBLIC, 'partials', m[1]!), 'utf8');
    out.push(html.slice(last, m.index), partial.trimEnd().replace(/\{\{([a-z]+)\}\}/g, (_, key: string) => vars.get(key) ?? ''));
    last = m.index + m[0].length;
  }
  out.push(html.slice(last));
  return out.join('');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}) {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'",
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

function fail(res: ServerResponse, e: unknown) {
  if (!res.headersSent) send(res, 500, 'text/plain', e instanceof Error ? e.message : 'error');
  else res.destroy();
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return {};
  }
}

function listen(server: Server, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) return reject(new Error('no address'));
      resolve(`http://localhost:${address.port}`);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
