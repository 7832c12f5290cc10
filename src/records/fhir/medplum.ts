/**
 * The one place src/records imports @medplum/core from, so that the WebSocket constants it reads
 * at load time exist first (see websocket-constants.ts).
 */
import './websocket-constants.js';

export { validateResource, parseStructureDefinition, getAllDataTypes, OperationOutcomeError, MEDPLUM_VERSION } from '@medplum/core';
export type { InternalSchemaElement, InternalTypeSchema, TypedValueWithPath } from '@medplum/core';
