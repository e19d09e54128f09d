import { describe, expect, it } from 'vitest';
import { irmark, irmarkInMessage } from './irmark.ts';
import { TEST_EMPLOYER, TEST_SENDER, testEmployee } from './fixtures.ts';
import { loadPack } from './packs.ts';
import { validateMessage } from './validate.ts';
import { buildEps, buildFps, buildProtocolMessage, parseGovTalk, RtiDocumentError } from './writer.ts';
import { readFileSync } from 'node:fs';

const pack = loadPack('2014-15');

describe('FPS and EPS writers', () => {
  it('writes an FPS for three employees that the 2014-15 schema accepts, with its IRmark', async () => {
    const xml = buildFps(pack, {
      employer: TEST_EMPLOYER,
      sender: TEST_SENDER,
      employees: [testEmployee(0, { starter: { startDate: '2014-04-07', declaration: 'A' } }), testEmployee(1, { nino: null }), testEmployee(2, { leavingDate: '2014-04-30', payment: { ...testEmployee(2).payment, taxCode: 'BR', nonCumulative: true } })],
    });
    expect(await validateMessage(xml, pack, 'fps')).toEqual([]);
    expect(irmarkInMessage(xml)).toBe(irmark(xml));
    expect(xml).toContain('<Class>HMRC-PAYE-RTI-FPS</Class>');
    expect(xml).toContain('<TaxCode BasisNonCumulative="yes">BR</TaxCode>');
    expect(xml.match(/<Employee>/g)).toHaveLength(3);
  });
  it('writes an EPS the schema accepts', async () => {
    const xml = buildEps(pack, { employer: TEST_EMPLOYER, sender: TEST_SENDER, noPayment: { from: '2014-05-06', to: '2014-06-05' }, employmentAllowance: true });
    expect(await validateMessage(xml, pack, 'eps')).toEqual([]);
    expect(irmarkInMessage(xml)).toBe(irmark(xml));
  });
  it("refuses what the year's layout cannot express, by field", () => {
    try {
      buildFps(pack, { employer: TEST_EMPLOYER, sender: TEST_SENDER, employees: [testEmployee(0), testEmployee(1, { payment: { ...testEmployee(1).payment, taxCode: 'S1257L' } })] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RtiDocumentError);
      expect((e as RtiDocumentError).problems).toEqual([expect.objectContaining({ field: 'employees[1].taxCode' })]);
    }
  });
  it("reads the Transaction Engine's answers as HMRC's samples shape them", () => {
    const s = (f: string) => readFileSync(new URL(`../../data/rti/samples/${f}`, import.meta.url), 'utf8');
    expect(parseGovTalk(s('poll_acknowledgement.xml'))).toMatchObject({ qualifier: 'acknowledgement', responseEndPoint: '/poll/next-endpoint', pollInterval: 10 });
    expect(parseGovTalk(s('poll_response.xml'))).toMatchObject({ qualifier: 'response', responseEndPoint: '/final/response' });
    expect(parseGovTalk(s('poll_business_error.xml')).errors).toEqual([{ number: '3001', type: 'business', text: 'Invalid poll request data', location: null }]);
    expect(parseGovTalk(s('poll_fatal_error.xml')).errors[0]).toMatchObject({ number: '9001', type: 'fatal' });
    expect(parseGovTalk(buildProtocolMessage('poll', 'HMRC-PAYE-RTI-FPS', 'ABC123', true))).toMatchObject({ qualifier: 'poll', correlationId: 'ABC123' });
  });
});
