import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConvertFormatDocument,
  CreateMappingDocument,
  DeleteMappingDocument,
  HistoryDocument,
  MappingsDocument,
  MappingWithVersionsDocument,
  TransformDataDocument,
  UpdateMappingDocument,
  ValidateDataDocument,
  type CreateMappingInput,
} from '../generated/graphql.ts';
import { eventually, startTestHub, type TestHub } from '../support/hub.ts';

const fixtures = new URL('../fixtures/', import.meta.url);
const fixture = (path: string) => readFileSync(new URL(path, fixtures), 'utf8');
const HL7_SAMPLES = ['ADT-A01-01', 'ADT-A03-01', 'ADT-A04-01', 'ADT-A08-01'];

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await hub?.close();
});

const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`;
const code = (r: { errors?: Array<{ extensions?: Record<string, any> }> }) => r.errors?.[0]?.extensions?.code;

/** A care home's residents list, as exported from its care-planning system. */
const residentsMapping = (): CreateMappingInput => ({
  name: unique('residents csv'),
  description: 'Residents export to the hub residents shape',
  sourceFormat: 'CSV',
  targetFormat: 'JSON',
  rules: {
    fields: {
      nhsNumber: { path: "%record.`NHS Number`", one: true, transform: ['nhsNumber'], required: true },
      name: { path: 'Surname', one: true, fields: { family: { path: '$this', one: true, transform: ['trim', 'upper'] }, given: { path: '%record.Forename', transform: ['trim'] } } },
      birthDate: { path: 'DOB', one: true, transform: ['date'], required: true },
      room: { path: 'Room', one: true, transform: ['integer'] },
      postcode: { path: 'Postcode', one: true, transform: ['postcode'] },
      phone: { path: 'Phone', one: true },
      source: { value: 'care-planning export', one: true },
    },
  },
  targetSchema: {
    type: 'object',
    required: ['nhsNumber', 'birthDate'],
    properties: { room: { type: 'integer', minimum: 1, maximum: 500 }, nhsNumber: { type: 'string', format: 'nhs-number' } },
  },
});

const RESIDENTS_CSV = [
  'NHS Number,Surname,Forename,DOB,Room,Postcode,Phone',
  '943 476 5919, Smith ,Ada,18/08/1938,12,sw1a1aa,07700900123',
  '9000000009,Jones,Bryn,1941-02-03,900,CF10 1AA,02920 000000',
  '9000000000,Brown,Cara,31/13/1940,x,nowhere,',
].join('\r\n');

describe('mappings: create, transform, version', () => {
  it('maps CSV rows to JSON, reporting every problem by row and field and still returning the data', async () => {
    const { createMapping: m } = await hub.ok(CreateMappingDocument, { input: residentsMapping() });
    expect(m.version).toBe(1);
    const { transformData: t } = await hub.ok(TransformDataDocument, { data: RESIDENTS_CSV, mappingId: m.id });
    expect(t.mapping).toEqual({ id: m.id, name: m.name, version: 1 });
    expect(t.records).toBe(3);
    expect(t.format).toBe('JSON');
    expect(t.valid).toBe(false);
    const [ada, bryn, cara] = t.data as Array<Record<string, unknown>>;
    // Values stay text until a transform says otherwise: the phone number keeps its leading zero.
    expect(ada).toEqual({
      nhsNumber: '9434765919',
      name: { family: 'SMITH', given: ['Ada'] },
      birthDate: '1938-08-18',
      room: 12,
      postcode: 'SW1A 1AA',
      phone: '07700900123',
      source: 'care-planning export',
    });
    expect(bryn).toMatchObject({ nhsNumber: '9000000009', birthDate: '1941-02-03', room: 900, postcode: 'CF10 1AA' });
    expect(cara).toEqual({ name: { family: 'BROWN', given: ['Cara'] }, source: 'care-planning export' });
    const byPath = Object.fromEntries(t.issues.map((i) => [`${i.path} ${i.code}`, i]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        '[1].room SCHEMA',
        '[2].nhsNumber TRANSFORM',
        '[2].nhsNumber REQUIRED',
        '[2].birthDate TRANSFORM',
        '[2].birthDate REQUIRED',
        '[2].room TRANSFORM',
        '[2].postcode TRANSFORM',
        '[2].nhsNumber SCHEMA',
        '[2].birthDate SCHEMA',
      ].sort(),
    );
    expect(byPath['[1].room SCHEMA']).toMatchObject({ keyword: 'maximum' });
    expect(byPath['[2].nhsNumber TRANSFORM']!.message).toContain('"9000000000"');
    expect(JSON.parse(t.text)).toEqual(t.data);
  });

  it('keeps every version: an update needs the current version, and an old version can still run', async () => {
    const input = residentsMapping();
    const { createMapping: v1 } = await hub.ok(CreateMappingDocument, { input });
    const rules = structuredClone(input.rules) as { fields: Record<string, unknown> };
    rules.fields.source = { value: 'v2', one: true };
    const { updateMapping: v2 } = await hub.ok(UpdateMappingDocument, { id: v1.id, expectedVersion: 1, input: { rules, description: 'second' } });
    expect(v2).toMatchObject({ version: 2, description: 'second', targetFormat: 'JSON', sourceFormat: 'CSV' });
    expect(v2.targetSchema).toEqual(input.targetSchema);

    // An editor who read version 1 cannot overwrite version 2.
    const stale = await hub.gql(UpdateMappingDocument, { id: v1.id, expectedVersion: 1, input: { description: 'lost update' } });
    expect(code(stale)).toBe('CONFLICT');
    expect(stale.errors?.[0]?.extensions?.currentVersion).toBe(2);

    const one = 'NHS Number,Surname,Forename,DOB\n9434765919,Smith,Ada,1938-08-18\n';
    const now = await hub.ok(TransformDataDocument, { data: one, mappingId: v1.id });
    expect(now.transformData).toMatchObject({ mappingVersion: 2, valid: true });
    expect((now.transformData.data as Array<{ source: string }>)[0]!.source).toBe('v2');
    const old = await hub.ok(TransformDataDocument, { data: one, mappingId: v1.id, version: 1 });
    expect(old.transformData.mappingVersion).toBe(1);
    expect((old.transformData.data as Array<{ source: string }>)[0]!.source).toBe('care-planning export');
    expect(code(await hub.gql(TransformDataDocument, { data: one, mappingId: v1.id, version: 7 }))).toBe('NOT_FOUND');

    const { mapping } = await hub.ok(MappingWithVersionsDocument, { id: v1.id });
    expect(mapping!.versions.map((v) => [v.version, v.description])).toEqual([
      [2, 'second'],
      [1, input.description],
    ]);

    // Each change announced itself through the event log, once.
    const announced = await eventually(async () => {
      const { eventHistory } = await hub.ok(HistoryDocument, { filter: { types: ['mapping.*'] }, first: 100 });
      const mine = eventHistory.events.filter((e) => (e.payload as { mappingId: string }).mappingId === v1.id);
      return mine.length >= 2 ? mine : undefined;
    });
    expect(announced.map((e) => [e.type, (e.payload as { version: number }).version])).toEqual([
      ['mapping.created', 1],
      ['mapping.updated', 2],
    ]);

    await hub.ok(DeleteMappingDocument, { id: v1.id });
    expect((await hub.ok(MappingWithVersionsDocument, { id: v1.id })).mapping).toBeNull();
    expect(code(await hub.gql(TransformDataDocument, { data: one, mappingId: v1.id }))).toBe('NOT_FOUND');
    expect(code(await hub.gql(DeleteMappingDocument, { id: v1.id }))).toBe('NOT_FOUND');
  });

  it('refuses bad mappings when they are saved, naming what is wrong, and saves nothing', async () => {
    const before = (await hub.ok(MappingsDocument)).mappings.length;
    const base = residentsMapping();
    const cases: Array<[Partial<CreateMappingInput>, RegExp]> = [
      [{ rules: { fields: { a: { path: 'name.where(' } } } }, /rules\.fields\.a\.path: invalid FHIRPath/],
      [{ rules: { fields: { a: { path: 'x', transform: ['shout'] } } } }, /rules/],
      [{ rules: { fields: { a: { path: 'x', colour: 'red' } } } }, /rules\.fields\.a must NOT have additional properties \(colour\)/],
      [{ rules: { fields: {} } }, /rules\.fields must NOT have fewer than 1 properties/],
      [{ rules: [] }, /rules must be object/],
      [{ rules: { fields: { a: { one: true } } } }, /rules\.fields\.a/],
      [{ targetSchema: { type: 'objekt' } }, /targetSchema is not a valid JSON Schema/],
      [{ name: '  ' }, /name must be/],
      [{ description: 'x'.repeat(2_001) }, /description must be at most/],
    ];
    for (const [change, message] of cases) {
      const r = await hub.gql(CreateMappingDocument, { input: { ...base, name: unique('bad'), ...change } });
      expect(code(r), JSON.stringify(change).slice(0, 80)).toBe('BAD_USER_INPUT');
      expect(r.errors![0]!.message).toMatch(message);
    }
    const wrongEnum = await hub.gql(CreateMappingDocument, { input: { ...base, sourceFormat: 'YAML' as never } });
    expect(wrongEnum.errors?.[0]?.message).toMatch(/YAML/);

    const { createMapping } = await hub.ok(CreateMappingDocument, { input: base });
    const dup = await hub.gql(CreateMappingDocument, { input: { ...base, description: 'again' } });
    expect(code(dup)).toBe('CONFLICT');
    expect((await hub.ok(MappingsDocument)).mappings.length).toBe(before + 1);
    const bad = await hub.gql(UpdateMappingDocument, { id: createMapping.id, expectedVersion: 1, input: { rules: { fields: { a: { path: ')' } } } } });
    expect(code(bad)).toBe('BAD_USER_INPUT');
    expect((await hub.ok(MappingWithVersionsDocument, { id: createMapping.id })).mapping!.versions).toHaveLength(1);
    expect(code(await hub.gql(UpdateMappingDocument, { id: 'c0ffee00-0000-4000-8000-000000000000', expectedVersion: 1, input: {} }))).toBe('NOT_FOUND');
    expect(code(await hub.gql(TransformDataDocument, { data: 'a,b', mappingId: 'not-an-id' }))).toBe('BAD_USER_INPUT');
    expect(code(await hub.gql(TransformDataDocument, { data: 'a,b', mappingId: 'c0ffee00-0000-4000-8000-000000000000' }))).toBe('NOT_FOUND');
  });

  it('refuses data it cannot read with a BAD_USER_INPUT that says where', async () => {
    const { createMapping: csv } = await hub.ok(CreateMappingDocument, { input: residentsMapping() });
    const ragged = await hub.gql(TransformDataDocument, { data: 'NHS Number,Surname\n9434765919,Smith,extra\n', mappingId: csv.id });
    expect(code(ragged)).toBe('BAD_USER_INPUT');
    expect(ragged.errors![0]!.message).toMatch(/^CSV: .*line 2/);
    expect(code(await hub.gql(TransformDataDocument, { data: { not: 'text' }, mappingId: csv.id }))).toBe('BAD_USER_INPUT');

    const { createMapping: xml } = await hub.ok(CreateMappingDocument, {
      input: { name: unique('xml'), sourceFormat: 'XML', targetFormat: 'JSON', rules: { fields: { id: { path: 'a.b', one: true } } } },
    });
    const broken = await hub.gql(TransformDataDocument, { data: '<a>\n  <b>1</c>\n</a>', mappingId: xml.id });
    expect(code(broken)).toBe('BAD_USER_INPUT');
    expect(broken.errors![0]!.message).toMatch(/^XML: .*line 2/);
    const entities = await hub.gql(TransformDataDocument, { data: '<!DOCTYPE a [<!ENTITY x "xx">]><a><b>&x;</b></a>', mappingId: xml.id });
    expect(entities.errors![0]!.message).toMatch(/DOCTYPE/);
    expect((await hub.ok(TransformDataDocument, { data: '<a><b>1</b></a>', mappingId: xml.id })).transformData.data).toEqual({ id: '1' });
  });

  it('reports an expression that fails on the data as an issue, not an internal error', async () => {
    const { createMapping: m } = await hub.ok(CreateMappingDocument, {
      input: { name: unique('strict'), sourceFormat: 'JSON', targetFormat: 'JSON', rules: { fields: { x: { path: '%nowhere.a', one: true }, y: { path: 'b', one: true } } } },
    });
    const { transformData: t } = await hub.ok(TransformDataDocument, { data: { b: 2 }, mappingId: m.id });
    expect(t.data).toEqual({ y: 2 });
    expect(t.issues).toEqual([expect.objectContaining({ path: 'x', code: 'PATH' })]);
  });
});

describe('HL7 v2 and FHIR', () => {
  it('reads each ADT sample and writes it back: the same message', async () => {
    for (const name of HL7_SAMPLES) {
      const message = fixture(`hl7v2/${name}.hl7`);
      const { convertFormat: json } = await hub.ok(ConvertFormatDocument, { data: message, from: 'HL7V2', to: 'JSON' });
      const parsed = json.data as Record<string, Array<Record<string, any>>>;
      expect(parsed.MSH![0]!.f9[0]).toMatchObject({ c1: 'ADT', c2: name.slice(4, 7) });
      const { convertFormat: back } = await hub.ok(ConvertFormatDocument, { data: parsed, from: 'JSON', to: 'HL7V2' });
      // Segment for segment, field for field; only the empty components a sender left at the end of a field or a
      // segment go.
      const segments = (t: string) => t.trim().split(/\r\n|\r|\n/).map((s) => s.replace(/[\^&]+(?=[|~]|$)/g, '').replace(/\|+$/, ''));
      expect(segments(back.text)).toEqual(segments(message));
      expect(back.text).not.toContain('\n');
    }
  });

  it('decodes escapes with the delimiters MSH-2 declares, and encodes them back', async () => {
    const message = 'MSH#!@\\%#HUB#HOME#X#Y#20261203120000+0000##ADT!A08#1#P#2.5\rNTE#1##Line one\\.br\\a \\F\\ b \\S\\ c \\T\\ d \\E\\ e\\H\\bold\\N\\ \\X41\\!two%parts';
    const { convertFormat: json } = await hub.ok(ConvertFormatDocument, { data: message, from: 'HL7V2', to: 'JSON' });
    const nte = (json.data as any).NTE[0];
    expect(nte.f3[0]).toEqual({ c1: 'Line one\na # b ! c % d \\ e\\H\\bold\\N\\ A', c2: { s1: 'two', s2: 'parts' } });
    const { convertFormat: back } = await hub.ok(ConvertFormatDocument, { data: json.data, from: 'JSON', to: 'HL7V2' });
    // Hex escapes are read as the characters they stand for, and written as those characters.
    expect(back.text).toBe(message.replace('\\X41\\', 'A'));
  });

  it('turns an ADT message into a FHIR Patient by the standard mapping', async () => {
    const { convertFormat: fhir } = await hub.ok(ConvertFormatDocument, { data: fixture('hl7v2/ADT-A01-01.hl7'), from: 'HL7V2', to: 'FHIR' });
    expect(fhir.format).toBe('FHIR');
    const patient = fhir.data as Record<string, any>;
    expect(patient).toMatchObject({
      resourceType: 'Patient',
      gender: 'male',
      birthDate: '1988-08-18',
      deceasedDateTime: '2008-08-25T11:16:30+01:15',
      identifier: [
        { value: 'PATID1234', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } },
        { value: '123456789', type: { coding: [{ code: 'SS' }] } },
      ],
      name: [{ use: 'usual', family: 'EVERYMAN', given: ['ADAM', 'A'], prefix: ['Dr.'], suffix: ['III'] }, { use: 'official', family: 'Josh' }],
      address: [{ type: 'postal', line: ['1000', 'Ste. 123'], city: 'Ann Arbor', postalCode: '99999', country: 'USA' }],
      maritalStatus: { coding: [{ code: 'M', display: 'Married' }] },
    });
    // A Patient has deceased[x] once: the date wins over the flag.
    expect(patient.deceasedBoolean).toBeUndefined();

    const nhs = 'MSH|^~\\&|PAS|RGT|HUB|HOME|20261203120000+0000||ADT^A28|42|P|2.4\rPID|1||9434765919^^^NHS^NH~X1^^^RGT^MR||Smith^Ada^^^Mrs||19380818|F';
    const { convertFormat: uk } = await hub.ok(ConvertFormatDocument, { data: nhs, from: 'HL7V2', to: 'FHIR' });
    expect((uk.data as any).identifier[0]).toEqual({ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'NH' }] } });
    expect(uk.data).toMatchObject({ gender: 'female', birthDate: '1938-08-18', name: [{ family: 'Smith', given: ['Ada'], prefix: ['Mrs'] }] });

    const noPid = await hub.gql(ConvertFormatDocument, { data: 'MSH|^~\\&|A|B|C|D|20260101||ACK|1|P|2.4', from: 'HL7V2', to: 'FHIR' });
    expect(noPid.errors![0]!.message).toMatch(/PID/);
    for (const bad of ['', 'PID|1||x', 'MSH|^^^^|A', 'MSH|^~\\&|A\rpid|1']) {
      const r = await hub.gql(ConvertFormatDocument, { data: bad, from: 'HL7V2', to: 'JSON' });
      expect(code(r), JSON.stringify(bad)).toBe('BAD_USER_INPUT');
      expect(r.errors![0]!.message).toMatch(/^HL7 v2: /);
    }
  });

  it('checks FHIR resources, and says which conversions need a mapping', async () => {
    const patient = { resourceType: 'Patient', id: 'r1', name: [{ family: 'Smith' }] };
    expect((await hub.ok(ConvertFormatDocument, { data: patient, from: 'FHIR', to: 'JSON' })).convertFormat.data).toEqual(patient);
    expect((await hub.ok(ConvertFormatDocument, { data: patient, from: 'JSON', to: 'FHIR' })).convertFormat.data).toEqual(patient);
    const notFhir = await hub.gql(ConvertFormatDocument, { data: { resourceType: 'Resident' }, from: 'JSON', to: 'FHIR' });
    expect(notFhir.errors![0]!.message).toMatch(/"Resident" is not a FHIR R4 resource type/);
    const toXml = await hub.gql(ConvertFormatDocument, { data: patient, from: 'FHIR', to: 'XML' });
    expect(toXml.errors![0]!.message).toMatch(/mapping with sourceFormat FHIR/);
    const fromCsv = await hub.gql(ConvertFormatDocument, { data: 'a\n1', from: 'CSV', to: 'FHIR' });
    expect(fromCsv.errors![0]!.message).toMatch(/targetFormat FHIR/);
  });

  it('maps FHIR with the R4 model (choice types) and checks a FHIR target', async () => {
    const { createMapping: m } = await hub.ok(CreateMappingDocument, {
      input: {
        name: unique('fhir'),
        sourceFormat: 'FHIR',
        targetFormat: 'FHIR',
        rules: {
          fields: {
            resourceType: { value: 'Observation', one: true },
            status: { value: 'final', one: true },
            valueString: { path: 'deceased', one: true, transform: ['string'] },
            subject: { path: 'id', one: true, fields: { reference: { path: "'Patient/' + $this", one: true } } },
          },
        },
      },
    });
    const { transformData: t } = await hub.ok(TransformDataDocument, { data: { resourceType: 'Patient', id: 'r1', deceasedDateTime: '2020-01-01' }, mappingId: m.id });
    expect(t).toMatchObject({ valid: true, data: { resourceType: 'Observation', status: 'final', valueString: '2020-01-01', subject: { reference: 'Patient/r1' } } });

    const { createMapping: broken } = await hub.ok(CreateMappingDocument, {
      input: { name: unique('not fhir'), sourceFormat: 'JSON', targetFormat: 'FHIR', rules: { fields: { resourceType: { path: 'kind', one: true } } } },
    });
    const { transformData: bad } = await hub.ok(TransformDataDocument, { data: { kind: 'Resident' }, mappingId: broken.id });
    expect(bad.valid).toBe(false);
    expect(bad.issues).toEqual([expect.objectContaining({ code: 'FHIR' })]);
  });
});

describe('bank statements (ISO 20022 camt.053)', () => {
  const entries = {
    name: 'camt.053 entries',
    sourceFormat: 'XML' as const,
    targetFormat: 'CSV' as const,
    rules: {
      forEach: 'Document.BkToCstmrStmt.Stmt.Ntry',
      fields: {
        statement: { path: '%root.Document.BkToCstmrStmt.Stmt.where(Ntry contains %record).Id', one: true },
        amount: { path: 'Amt.`#text`', one: true, required: true },
        currency: { path: 'Amt.`@Ccy`', one: true, required: true },
        direction: { path: 'CdtDbtInd', one: true, transform: [{ map: { CRDT: 'credit', DBIT: 'debit' } }] },
        bookingDate: { path: 'BookgDt.Dt | BookgDt.DtTm', one: true, transform: ['date'] },
        valueDate: { path: 'ValDt.Dt | ValDt.DtTm', one: true, transform: ['date'] },
      },
    },
    targetSchema: { type: 'object', properties: { amount: { type: 'string', pattern: '^[0-9]+(\\.[0-9]{1,5})?$' } } },
  };

  it('reads the entries of each sample statement as the sample says a parser should', async () => {
    const { createMapping: m } = await hub.ok(CreateMappingDocument, { input: { ...entries, name: unique(entries.name) } });
    for (const sample of ['camt053.v2.minimal', 'camt053.v2.multi.statement', 'camt053.v4']) {
      const { transformData: t } = await hub.ok(TransformDataDocument, { data: fixture(`camt053/${sample}.xml`), mappingId: m.id });
      expect(t.valid, sample).toBe(true);
      const { convertFormat: rows } = await hub.ok(ConvertFormatDocument, { data: t.text, from: 'CSV', to: 'JSON' });
      const got = rows.data as Array<Record<string, string>>;
      expect(got.length).toBe(t.records);
      // The sample's expected values: amounts in minor units, negative for debits.
      const expected = JSON.parse(fixture(`camt053/${sample}.json`)).getEntries as Array<{ getAmount: { getAmount: string; getCurrency: { getCode: string } }; getBookingDate: { 0: string } }>;
      for (const e of expected) {
        const minor = Number(e.getAmount.getAmount);
        const match = got.find((g) => Math.round(Number(g.amount) * 100) * (g.direction === 'debit' ? -1 : 1) === minor);
        expect(match, `${sample} ${minor}`).toMatchObject({ currency: e.getAmount.getCurrency.getCode, bookingDate: e.getBookingDate[0].slice(0, 10) });
      }
    }
  });
});

describe('validateData', () => {
  const resident = {
    type: 'object',
    required: ['nhsNumber', 'postcode'],
    additionalProperties: false,
    properties: {
      nhsNumber: { type: 'string', format: 'nhs-number' },
      postcode: { type: 'string', format: 'uk-postcode' },
      niNumber: { type: 'string', format: 'ni-number' },
      sortCode: { type: 'string', format: 'sort-code' },
      room: { type: 'integer' },
      status: { type: 'string', default: 'ACTIVE' },
    },
  };

  it('reports every failure with its path and keyword, and checks UK identifiers', async () => {
    const { validateData: ok } = await hub.ok(ValidateDataDocument, { data: { nhsNumber: '9434765919', postcode: 'SW1A 1AA', niNumber: 'AB123456C', sortCode: '20-00-00' }, schema: resident });
    expect(ok).toEqual({ valid: true, issues: [], data: { nhsNumber: '9434765919', postcode: 'SW1A 1AA', niNumber: 'AB123456C', sortCode: '20-00-00' }, changes: [] });
    const { validateData: bad } = await hub.ok(ValidateDataDocument, { data: { nhsNumber: '9434765918', niNumber: 'QQ123456C', sortCode: '2000', room: '12', extra: 1 }, schema: resident });
    expect(bad.valid).toBe(false);
    expect(bad.issues.map((i) => [i.path, i.keyword]).sort()).toEqual(
      [
        ['postcode', 'required'],
        ['', 'additionalProperties'],
        ['nhsNumber', 'format'],
        ['niNumber', 'format'],
        ['sortCode', 'format'],
        ['room', 'type'],
      ].sort(),
    );
    expect(bad.issues.find((i) => i.keyword === 'required')!.message).toBe('postcode is required');
  });

  it('cleanses: trims, drops empty values and properties the schema does not allow, coerces types, fills defaults, and lists each change', async () => {
    const { validateData: v } = await hub.ok(ValidateDataDocument, {
      data: { nhsNumber: ' 9434765919 ', postcode: 'SW1A 1AA', room: '12', extra: 'x', sortCode: '' },
      schema: resident,
      cleanse: true,
    });
    expect(v.valid).toBe(true);
    expect(v.data).toEqual({ nhsNumber: '9434765919', postcode: 'SW1A 1AA', room: 12, status: 'ACTIVE' });
    expect(v.changes.map((c) => [c.path, c.action]).sort()).toEqual(
      [
        ['nhsNumber', 'TRIMMED'],
        ['sortCode', 'REMOVED'],
        ['room', 'COERCED'],
        ['extra', 'REMOVED'],
        ['status', 'DEFAULTED'],
      ].sort(),
    );
  });

  it('validates CSV rows and XML after reading them, and refuses a broken schema', async () => {
    const { validateData: csv } = await hub.ok(ValidateDataDocument, {
      data: 'nhsNumber,postcode\n9434765919,SW1A 1AA\n123,nowhere\n',
      schema: { type: 'array', items: resident },
      format: 'CSV',
    });
    expect(csv.issues.map((i) => i.path).sort()).toEqual(['[1].nhsNumber', '[1].postcode']);
    const { validateData: xml } = await hub.ok(ValidateDataDocument, { data: '<r><n a="1">x</n></r>', schema: { required: ['r'], properties: { r: { properties: { n: { required: ['@a'] } } } } }, format: 'XML' });
    expect(xml.valid).toBe(true);
    expect(code(await hub.gql(ValidateDataDocument, { data: {}, schema: { type: 12 } }))).toBe('BAD_USER_INPUT');
    expect(code(await hub.gql(ValidateDataDocument, { data: {}, schema: 'string' as never }))).toBe('BAD_USER_INPUT');
  });
});

describe('convertFormat', () => {
  it('JSON to XML and CSV and back, values kept as they were', async () => {
    const rows = [
      { nhsNumber: '9434765919', name: { family: 'Smith', given: ['Ada', 'May'] }, phone: '07700900123' },
      { nhsNumber: '9000000009', name: { family: "O'Brien, Jr", given: ['Bryn'] }, phone: '' },
    ];
    const { convertFormat: xml } = await hub.ok(ConvertFormatDocument, { data: rows, from: 'JSON', to: 'XML', options: { xmlRoot: 'residents', xmlItem: 'resident' } });
    expect(xml.text).toContain('<residents>');
    expect(xml.text).toContain('<family>O&apos;Brien, Jr</family>');
    const { convertFormat: fromXml } = await hub.ok(ConvertFormatDocument, { data: xml.text, from: 'XML', to: 'JSON' });
    expect((fromXml.data as any).residents.resident[0]).toEqual({ nhsNumber: '9434765919', name: { family: 'Smith', given: ['Ada', 'May'] }, phone: '07700900123' });

    const { convertFormat: csv } = await hub.ok(ConvertFormatDocument, { data: rows, from: 'JSON', to: 'CSV', options: { csvDelimiter: ';' } });
    expect(csv.text.split('\r\n')[0]).toBe('nhsNumber;name.family;name.given.0;name.given.1;phone');
    expect(csv.text.split('\r\n')[2]).toBe("9000000009;O'Brien, Jr;Bryn;;");
    const { convertFormat: back } = await hub.ok(ConvertFormatDocument, { data: csv.text, from: 'CSV', to: 'JSON', options: { csvDelimiter: ';' } });
    expect(back.data).toEqual([
      { nhsNumber: '9434765919', 'name.family': 'Smith', 'name.given.0': 'Ada', 'name.given.1': 'May', phone: '07700900123' },
      { nhsNumber: '9000000009', 'name.family': "O'Brien, Jr", 'name.given.0': 'Bryn', 'name.given.1': '', phone: '' },
    ]);
  });

  it('refuses what it cannot write, with a clear error', async () => {
    const badName = await hub.gql(ConvertFormatDocument, { data: [{ 'first name': 'Ada' }], from: 'JSON', to: 'XML' });
    expect(badName.errors![0]!.message).toMatch(/"first name".*cannot be an XML element name/);
    expect(code(await hub.gql(ConvertFormatDocument, { data: 'a,b', from: 'CSV', to: 'JSON', options: { csvDelimiter: '::' } }))).toBe('BAD_USER_INPUT');
    const notHl7 = await hub.gql(ConvertFormatDocument, { data: { PID: [{ f3: [{ c1: 'x' }] }] }, from: 'JSON', to: 'HL7V2' });
    expect(notHl7.errors![0]!.message).toMatch(/MSH segment is required/);
  });
});
