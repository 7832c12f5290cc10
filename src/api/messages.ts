import { z } from 'zod';
import { ATTACHMENT_SLICE_BYTES, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENT_INDEX, MAX_NAME_CHARS, MAX_REQUEST_CHARS, PAGE_TAG } from './constants.js';
import { PURPOSES, SCOPES } from './schemas.js';

/**
 * Every message that crosses a boundary inside the extension, as zod schemas: page world ↔
 * content script (window.postMessage), content script ↔ engine host and UI ↔ engine host
 * (runtime ports), and the service worker's control messages. Each side parses what arrives
 * before acting on it; anything that does not parse is dropped.
 *
 * Chromium's runtime messaging serialises to JSON, so every payload is plain JSON (binary goes
 * as base64url text).
 */

export { PAGE_TAG };
/** Runtime port name of content scripts. */
export const PAGE_PORT = 'patientVault/page';
/** Runtime port name of extension pages (popup, vault tab, approval window). */
export const UI_PORT = 'patientVault/ui';
/** Largest request id a page may use. */
const MAX_ID = 2 ** 31 - 1;

const channel = z.string().regex(/^[0-9a-f]{32}$/);
const requestId = z.number().int().min(1).max(MAX_ID);

const rpcError = z.strictObject({
  code: z.number().int(),
  message: z.string().max(1000),
  data: z
    .strictObject({ path: z.string().max(300).optional(), retryAfterMs: z.number().optional(), reason: z.string().max(64).optional() })
    .optional(),
});
/** A response to a page call. */
export const pageResponse = z.discriminatedUnion('ok', [
  z.strictObject({ ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ ok: z.literal(false), error: rpcError }),
]);

/** An event for a page. */
export const pageEvent = z.discriminatedUnion('event', [
  z.strictObject({ event: z.literal('lockChanged'), data: z.strictObject({ locked: z.boolean() }) }),
  z.strictObject({
    event: z.literal('shareChanged'),
    data: z.strictObject({ grantId: z.string().max(200).optional(), status: z.enum(['live', 'revoked', 'expired', 'invalid']).optional() }),
  }),
]);

/** Page world → content script. */
export const pageToContent = z.discriminatedUnion('kind', [
  z.strictObject({ pv: z.literal(PAGE_TAG), dir: z.literal('to-content'), channel, kind: z.literal('hello') }),
  z.strictObject({
    pv: z.literal(PAGE_TAG),
    dir: z.literal('to-content'),
    channel,
    kind: z.literal('request'),
    id: requestId,
    body: z.string().max(MAX_REQUEST_CHARS),
  }),
  z.strictObject({ pv: z.literal(PAGE_TAG), dir: z.literal('to-content'), channel, kind: z.literal('subscribe') }),
]);
/** A message of {@link pageToContent}. */
export type PageToContent = z.output<typeof pageToContent>;

/** Content script → page world. */
export const contentToPage = z.discriminatedUnion('kind', [
  z.strictObject({ pv: z.literal(PAGE_TAG), dir: z.literal('to-page'), kind: z.literal('syn') }),
  z.strictObject({ pv: z.literal(PAGE_TAG), dir: z.literal('to-page'), channel, kind: z.literal('ready') }),
  z.strictObject({ pv: z.literal(PAGE_TAG), dir: z.literal('to-page'), channel, kind: z.literal('response'), id: requestId, response: pageResponse }),
  z.strictObject({ pv: z.literal(PAGE_TAG), dir: z.literal('to-page'), channel, kind: z.literal('event'), event: pageEvent }),
]);
/** A message of {@link contentToPage}. */
export type ContentToPage = z.output<typeof contentToPage>;

/** Content script → engine host, over a {@link PAGE_PORT} port. */
export const contentToHost = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('request'), id: requestId, origin: z.string().max(300), body: z.string().max(MAX_REQUEST_CHARS) }),
  z.strictObject({ kind: z.literal('subscribe'), origin: z.string().max(300) }),
]);
/** A message of {@link contentToHost}; `origin` is the content script's `location.origin`, checked against the browser's sender. */
export type ContentToHost = z.output<typeof contentToHost>;

/** Engine host → content script. */
export const hostToContent = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('response'), id: requestId, response: pageResponse }),
  z.strictObject({ kind: z.literal('event'), event: pageEvent }),
]);
/** A message of {@link hostToContent}. */
export type HostToContent = z.output<typeof hostToContent>;

const scope = z.enum(SCOPES);
/** A did:key (Ed25519, base58btc). */
const did = z.string().regex(/^did:key:z[1-9A-HJ-NP-Za-km-z]{40,60}$/);
/** A vault id or entry id (a SHA-256, base64url). */
const vaultId = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
/** A calendar date, YYYY-MM-DD. */
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
/** An inbox item id (12 random bytes, base64url). */
const inboxItemId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
/** One FHIR resource as the UI read it from a file or the clipboard; src/records validates it fully. */
const fhirResource = z.looseObject({ resourceType: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/) });
const passphrase = z.string().min(1).max(1024);
const shareEdits = z.strictObject({
  scopes: z.array(scope).min(1).max(SCOPES.length),
  purpose: z.enum(PURPOSES),
  expiresInDays: z.number().int().min(1).max(3650),
  allowResults: z.boolean().optional(),
});
/** A decision from the approval window. */
export const decision = z.union([
  z.strictObject({ approved: z.literal(true), edits: shareEdits.optional() }),
  z.strictObject({ approved: z.literal(false), reason: z.literal('denied') }),
]);
/** Params of a UI import (the UI reads files and QR images and hands over text or JSON). */
const importInput = z.discriminatedUnion('format', [
  z.strictObject({ format: z.literal('fhir'), data: z.looseObject({ resourceType: z.string() }) }),
  z.strictObject({ format: z.literal('smart-health-card'), data: z.string().max(1024 * 1024) }),
]);

/** A record's key in a vault: ResourceType/id (the store's own rule, src/records/store/record-codec.ts). */
const recordKey = z.string().regex(/^[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9\-.]{1,64}$/);

/** A relay multiaddr that names its peer, e.g. /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3Koo… */
export const relayAddress = z
  .string()
  .max(300)
  .regex(/^\/[A-Za-z0-9./:_-]+\/p2p\/[1-9A-HJ-NP-Za-km-z]{40,60}$/, 'expected a relay multiaddr ending in /p2p/<peer id>');

/** Commands extension pages send the engine host. */
export const uiCommand = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('status') }),
  z.strictObject({ type: z.literal('create'), passphrase, displayName: z.string().min(1).max(MAX_NAME_CHARS).optional() }),
  z.strictObject({ type: z.literal('unlock'), passphrase }),
  z.strictObject({ type: z.literal('lock') }),
  z.strictObject({ type: z.literal('touch') }),
  z.strictObject({ type: z.literal('setAutoLock'), minutes: z.number().int().min(0).max(24 * 60) }),
  z.strictObject({ type: z.literal('exportBackup') }),
  z.strictObject({ type: z.literal('restoreBackup'), backup: z.string().max(200 * 1024 * 1024), passphrase }),
  z.strictObject({ type: z.literal('prompts') }),
  z.strictObject({ type: z.literal('decide'), promptId: z.string().max(100), decision }),
  z.strictObject({ type: z.literal('origins') }),
  z.strictObject({ type: z.literal('disconnectOrigin'), origin: z.string().max(300) }),
  z.strictObject({ type: z.literal('previewImport'), input: importInput }),
  z.strictObject({ type: z.literal('importRecords'), input: importInput, progressId: z.string().max(100).optional(), vault: vaultId.optional() }),
  z.strictObject({
    type: z.literal('timeline'),
    vault: vaultId.optional(),
    scope: scope.optional(),
    resourceType: z.string().max(64).optional(),
    limit: z.number().int().min(1).max(100_000).optional(),
  }),
  z.strictObject({ type: z.literal('labCodes') }),
  /**
   * One attachment's bytes, for the record view (never a page-API method). `vault`: another vault
   * this device holds; `patient`: a patient who shared with this device (provider views); neither:
   * this device's own vault. At most {@link ATTACHMENT_SLICE_BYTES} per call.
   */
  z.strictObject({
    type: z.literal('readAttachment'),
    vault: vaultId.optional(),
    patient: did.optional(),
    key: recordKey,
    index: z.number().int().min(0).max(MAX_ATTACHMENT_INDEX),
    offset: z.number().int().min(0).max(MAX_ATTACHMENT_BYTES).optional(),
    length: z.number().int().min(1).max(ATTACHMENT_SLICE_BYTES).optional(),
  }),
  z.strictObject({ type: z.literal('labSeries'), loinc: z.string().regex(/^[0-9]{1,7}-[0-9]$/) }),
  z.strictObject({ type: z.literal('grants'), vault: vaultId.optional() }),
  z.strictObject({ type: z.literal('revokeGrant'), grantId: z.string().max(200) }),
  z.strictObject({
    type: z.literal('createInvitation'),
    scopes: z.array(scope).min(1),
    purpose: z.enum(PURPOSES),
    expiresInDays: z.number().int().min(1).max(3650),
    vault: vaultId.optional(),
  }),
  z.strictObject({ type: z.literal('accessTrail') }),
  z.strictObject({ type: z.literal('inbox') }),
  z.strictObject({ type: z.literal('acceptResult'), from: did, id: inboxItemId, scope }),
  z.strictObject({ type: z.literal('rejectResult'), from: did, id: inboxItemId }),
  z.strictObject({ type: z.literal('providerShared'), includeEnded: z.boolean() }),
  z.strictObject({ type: z.literal('providerRecords'), patient: z.string().max(200), scope: scope.optional(), limit: z.number().int().min(1).max(500) }),
  z.strictObject({
    type: z.literal('redeemInvitation'),
    invitation: z.string().min(8).max(2048),
    scopes: z.array(scope).min(1).max(SCOPES.length),
    purpose: z.enum(PURPOSES),
    expiresInDays: z.number().int().min(1).max(3650),
  }),
  z.strictObject({ type: z.literal('providerRefresh') }),
  z.strictObject({ type: z.literal('providerSendResult'), patient: did, resource: fhirResource }),
  z.strictObject({ type: z.literal('settings') }),
  z.strictObject({ type: z.literal('setRelay'), relay: relayAddress.nullable() }),
  // Families (issue 8)
  z.strictObject({ type: z.literal('vaults') }),
  z.strictObject({ type: z.literal('familyAlerts') }),
  z.strictObject({ type: z.literal('createDependent'), label: z.string().trim().min(1).max(MAX_NAME_CHARS), guardianUntil: isoDate.optional() }),
  z.strictObject({ type: z.literal('familyOverview'), vault: vaultId }),
  z.strictObject({ type: z.literal('addGuardian'), vault: vaultId, did, name: z.string().trim().min(1).max(MAX_NAME_CHARS).optional() }),
  z.strictObject({
    type: z.literal('addEmergencyContact'),
    vault: vaultId,
    did,
    scopes: z.array(scope).min(1).max(SCOPES.length),
    waitHours: z.number().min(0).max(24 * 365),
    name: z.string().trim().min(1).max(MAX_NAME_CHARS).optional(),
  }),
  z.strictObject({ type: z.literal('removeDelegate'), vault: vaultId, did }),
  z.strictObject({ type: z.literal('protectScopes'), vault: vaultId, scopes: z.array(scope).min(1).max(SCOPES.length) }),
  z.strictObject({ type: z.literal('handover'), vault: vaultId, subject: did, guardians: z.enum(['end', 'read']) }),
  z.strictObject({ type: z.literal('useFamilyLink'), link: z.string().min(16).max(4096) }),
  z.strictObject({ type: z.literal('requestEmergency'), vault: vaultId, reason: z.string().max(500).optional() }),
  z.strictObject({ type: z.literal('denyEmergency'), request: vaultId }),
  z.strictObject({ type: z.literal('refreshVault'), vault: vaultId }),
  /** Test builds only (WXT_PV_TEST_CLOCK=1): moves the engine's clock forward; other builds refuse it. */
  z.strictObject({ type: z.literal('setTestClock'), offsetMs: z.number().int().min(0).max(10 * 365 * 86_400_000) }),
]);
/** A command of {@link uiCommand}. */
export type UiCommand = z.output<typeof uiCommand>;

/** Extension page → engine host, over a {@link UI_PORT} port. */
export const uiToHost = z.strictObject({ kind: z.literal('call'), id: requestId, command: uiCommand });
/** A message of {@link uiToHost}. */
export type UiToHost = z.output<typeof uiToHost>;

/** Events the host pushes to extension pages. */
export const uiEvent = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('status') }),
  z.strictObject({ type: z.literal('prompts'), count: z.number().int().min(0) }),
  z.strictObject({ type: z.literal('origins') }),
  z.strictObject({ type: z.literal('records') }),
  z.strictObject({ type: z.literal('grants') }),
  z.strictObject({ type: z.literal('inbox') }),
  z.strictObject({ type: z.literal('family') }),
  z.strictObject({ type: z.literal('progress'), progressId: z.string().max(100), done: z.number(), total: z.number() }),
]);
/** An event of {@link uiEvent}. */
export type UiEvent = z.output<typeof uiEvent>;

/** A UI error: a stable code the view can act on, and a message it can show. */
export const uiError = z.strictObject({ code: z.string().max(64), message: z.string().max(1000) });
/** Engine host → extension page. */
export const hostToUi = z.union([
  z.strictObject({ kind: z.literal('result'), id: requestId, ok: z.literal(true), value: z.unknown() }),
  z.strictObject({ kind: z.literal('result'), id: requestId, ok: z.literal(false), error: uiError }),
  z.strictObject({ kind: z.literal('event'), event: uiEvent }),
]);
/** A message of {@link hostToUi}. */
export type HostToUi = z.output<typeof hostToUi>;

/**
 * Control messages by `runtime.sendMessage`: `wake` (make sure the engine host runs; answered by
 * the service worker on Chromium, by the background page on Firefox), `host-ready` (the offscreen
 * host tells the service worker it is listening), `open-approval` and
 * `badge` (the host asks the service worker, which alone may open windows and set the badge).
 */
export const controlMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('patientVault/wake') }),
  z.strictObject({ type: z.literal('patientVault/host-ready') }),
  z.strictObject({ type: z.literal('patientVault/open-approval') }),
  z.strictObject({ type: z.literal('patientVault/badge'), count: z.number().int().min(0).max(10_000) }),
]);
/** A message of {@link controlMessage}. */
export type ControlMessage = z.output<typeof controlMessage>;
