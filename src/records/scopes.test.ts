import { describe, expect, it } from 'vitest';
import { ACCEPTED_RESOURCE_TYPES, SCOPE_RULES, SCOPES, assignScope, isAcceptedResourceType, isScopeName, type ScopeRule } from './scopes.js';

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/** A resource of `type` that carries one Coding (in `code`, or as a label, or as a category). */
function sample(rule: ScopeRule, code: string): { resourceType: string } & Record<string, unknown> {
  const system = rule.systems?.[0] ?? '';
  switch (rule.on) {
    case 'security-label':
      return { resourceType: 'Observation', meta: { security: [{ system, code }] }, code: { text: 'x' } };
    case 'code':
      return { resourceType: 'Condition', code: { coding: [{ system, code }] } };
    case 'category':
      return { resourceType: rule.resourceTypes![0]!, category: [{ coding: [{ system, code }] }] };
    case 'type':
      return { resourceType: code };
  }
}

/** Every code a row names: each set member, and each end of each range. */
function codesOf(rule: ScopeRule): string[] {
  if (rule.on === 'type') return [...rule.resourceTypes!];
  if (rule.match!.kind === 'set') return [...rule.match!.codes];
  return rule.match!.ranges.flatMap(([from, to]) => [from, to]);
}

describe('scope table', () => {
  for (const rule of SCOPE_RULES) {
    it(`row ${rule.id} puts its codes in ${rule.scope}`, () => {
      for (const code of codesOf(rule)) {
        const decision = assignScope(sample(rule, code));
        expect({ code, scope: decision.scope, rule: decision.rule }).toEqual({ code, scope: rule.scope, rule: rule.id });
      }
    });
  }

  it('accepts exactly the types named by type rows, each in one scope', () => {
    expect(new Set(ACCEPTED_RESOURCE_TYPES).size).toBe(ACCEPTED_RESOURCE_TYPES.length);
    expect(isAcceptedResourceType('Observation')).toBe(true);
    expect(isAcceptedResourceType('Subscription')).toBe(false);
    expect(isAcceptedResourceType('Bundle')).toBe(false);
  });

  it('knows the eight scope names', () => {
    expect(SCOPES).toHaveLength(8);
    expect(isScopeName('genomics')).toBe(true);
    expect(isScopeName('everything')).toBe(false);
    expect(isScopeName(3)).toBe(false);
  });

  it('splits ICD-10 F-codes: F10–F19 substance use, the rest mental health', () => {
    const icd = (code: string) => assignScope({ resourceType: 'Condition', code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code }] } } as never).scope;
    expect(icd('F10.20')).toBe('substance-use');
    expect(icd('F19.9')).toBe('substance-use');
    expect(icd('F09')).toBe('mental-health');
    expect(icd('F20.0')).toBe('mental-health');
    expect(icd('F32.9')).toBe('mental-health');
    expect(icd('F99')).toBe('mental-health');
    expect(icd('E11.9')).toBe('summary');
    expect(icd('G10')).toBe('summary');
  });

  it('takes the strictest sensitive scope when several match', () => {
    const both = { resourceType: 'Condition', code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'F32.9' }, { system: 'http://hl7.org/fhir/sid/icd-10', code: 'F10.20' }] } };
    expect(assignScope(both).scope).toBe('substance-use');
    const labelled = { resourceType: 'Observation', meta: { security: [{ system: ACT_CODE, code: 'GDIS' }] }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'F32.9' }] } };
    expect(assignScope(labelled).rule).toBe('label-genomics');
  });

  it('finds sensitive codes anywhere in the resource, not only in code', () => {
    const encounter = { resourceType: 'Encounter', reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '35489007' }] }] };
    expect(assignScope(encounter).scope).toBe('mental-health');
  });

  it('keeps a Patient in summary whatever codes it carries', () => {
    const patient = { resourceType: 'Patient', extension: [{ url: 'x', valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '77386006' }] } }] };
    expect(assignScope(patient)).toEqual({ scope: 'summary', rule: 'type-summary', restricted: false });
  });

  it('counts the codes of a related Medication', () => {
    const request = { resourceType: 'MedicationRequest', medicationReference: { reference: 'Medication/1' } };
    const medication = { coding: [{ system: 'http://snomed.info/sct', code: '191816009' }] };
    expect(assignScope(request).scope).toBe('summary');
    expect(assignScope(request, [medication]).scope).toBe('substance-use');
  });

  it('marks confidentiality R and V as restricted without changing the scope', () => {
    const r = { resourceType: 'Observation', meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] } };
    expect(assignScope(r)).toEqual({ scope: 'labs', rule: 'type-labs', restricted: true });
    const n = { resourceType: 'Observation', meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }] } };
    expect(assignScope(n).restricted).toBe(false);
  });

  it('ignores a known code under another system', () => {
    const wrongSystem = { resourceType: 'Condition', code: { coding: [{ system: 'http://example.org/codes', code: 'F32.9' }] } };
    expect(assignScope(wrongSystem).scope).toBe('summary');
  });

  it('does not treat meta tags as clinical codes', () => {
    const tagged = { resourceType: 'Observation', meta: { tag: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'F32.9' }] } };
    expect(assignScope(tagged).scope).toBe('labs');
  });
});
