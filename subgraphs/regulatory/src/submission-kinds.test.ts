import { describe, expect, it } from 'vitest';
import { loadKinds } from './submission-kinds.ts';

const kinds = loadKinds();
const death = kinds.latest('CQC_DEATH_NOTIFICATION')!;
const valid = {
  cqcLocationId: '1-101234567',
  person: { forename: 'Edith', surname: 'Clarke', dateOfBirth: '1931-05-02' },
  dateOfDeath: '2026-12-03',
  placeOfDeath: 'AT_THE_SERVICE',
  expected: true,
  circumstances: 'Died peacefully in her sleep; her GP attended.',
  reportedToCoroner: false,
  notifiedBy: { name: 'Grace Hopper', role: 'Registered manager' },
};

describe('submission kinds (data)', () => {
  it('loads the CQC death notification, version 1', () => {
    expect(death).toMatchObject({ kind: 'CQC_DEATH_NOTIFICATION', version: 1, regulator: 'CQC', namesResident: true, channel: 'SMTP' });
    expect(kinds.get('CQC_DEATH_NOTIFICATION', 1)).toBe(death);
    expect(kinds.latest('NO_SUCH_KIND')).toBeUndefined();
  });

  it('accepts a complete payload and lists every missing field of an incomplete one', () => {
    expect(kinds.problems(death, valid)).toEqual({ missing: [], invalid: [] });
    const { person, dateOfDeath, reportedToCoroner, ...rest } = valid;
    const p = kinds.problems(death, { ...rest, person: { forename: person.forename } });
    expect(p.missing.sort()).toEqual(['dateOfDeath', 'person.dateOfBirth', 'person.surname', 'reportedToCoroner']);
    void dateOfDeath;
    void reportedToCoroner;
  });

  it('says what is wrong with a field', () => {
    const p = kinds.problems(death, { ...valid, dateOfDeath: '03/12/2026', placeOfDeath: 'HOME', shoeSize: 9 });
    expect(p.missing).toEqual([]);
    expect(p.invalid).toEqual(expect.arrayContaining(['dateOfDeath must match format "date"', 'placeOfDeath must be one of AT_THE_SERVICE, IN_HOSPITAL, ELSEWHERE', 'shoeSize is not a field of this kind']));
  });
});
