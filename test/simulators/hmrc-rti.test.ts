import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorIrmark, startHmrcRtiSimulator, type HmrcRtiSimulator } from '@hub/simulators';

const SAMPLES = new URL('../../subgraphs/payroll/data/rti/samples/', import.meta.url);
const vectors = JSON.parse(readFileSync(new URL('IRMARK-TEST-VECTORS.json', SAMPLES), 'utf8')).vectors as Array<{ file: string; computed_base64: string }>;
const sample = (f: string) => readFileSync(new URL(f, SAMPLES), 'utf8');
const post = async (url: string, xml: string) => (await fetch(url, { method: 'POST', body: xml, headers: { 'content-type': 'application/xml' } })).text();

describe('HMRC RTI Transaction Engine simulator', () => {
  let sim: HmrcRtiSimulator;
  beforeAll(async () => {
    sim = await startHmrcRtiSimulator({ senderId: 'ISV635', password: 'testing1', pollIntervalSeconds: 0, pollsBeforeResponse: 1 });
  });
  afterAll(() => sim.close());

  it.each(vectors.map((v) => [v.file, v] as const))('computes the IRmark of %s on its own (libxml2 C14N)', async (_f, v) => {
    expect(await simulatorIrmark(sample(v.file.split('/').pop()!))).toBe(v.computed_base64);
  });

  it("accepts HMRC's sample FPS: acknowledgement, poll, response, delete", async () => {
    const ack = await post(sim.submissionUrl, sample('sample-FPS-2014-15.xml'));
    expect(ack).toContain('<Qualifier>acknowledgement</Qualifier>');
    const id = /<CorrelationID>([^<]+)</.exec(ack)![1]!;
    expect(ack).toMatch(/<ResponseEndPoint PollInterval="0">[^<]+\/poll<\/ResponseEndPoint>/);
    const poll = (cid: string) => `<GovTalkMessage xmlns="http://www.govtalk.gov.uk/CM/envelope"><EnvelopeVersion>2.0</EnvelopeVersion><Header><MessageDetails><Class>HMRC-PAYE-RTI-FPS</Class><Qualifier>poll</Qualifier><Function>submit</Function><CorrelationID>${cid}</CorrelationID></MessageDetails></Header><GovTalkDetails><Keys/></GovTalkDetails><Body/></GovTalkMessage>`;
    expect(await post(`${sim.url}/poll`, poll(id))).toContain('<Qualifier>acknowledgement</Qualifier>');
    const response = await post(`${sim.url}/poll`, poll(id));
    expect(response).toContain('<Qualifier>response</Qualifier>');
    expect(response).toContain('SuccessResponse');
    const del = poll(id).replace('<Qualifier>poll</Qualifier><Function>submit</Function>', '<Qualifier>request</Qualifier><Function>delete</Function>');
    expect(await post(sim.submissionUrl, del)).toContain('<Function>delete</Function>');
    expect(await post(`${sim.url}/poll`, poll(id))).toContain('<Number>2000</Number>');
  });

  it('refuses wrong credentials, a wrong IRmark and an invalid document, with no correlation id', async () => {
    const before = sim.stats().submissions.length;
    expect(await post(sim.submissionUrl, sample('sample-FPS-2014-15.xml').replace('<Value>testing1</Value>', '<Value>wrong</Value>'))).toContain('<Number>1046</Number>');
    expect(await post(sim.submissionUrl, sample('sample-FPS-2014-15.xml').replace('<PayeRef>A635</PayeRef>', '<PayeRef>A636</PayeRef>'))).toContain('<Number>2021</Number>');
    expect(await post(sim.submissionUrl, sample('sample-FPS-2014-15.xml').replace('<Gender>M</Gender>', '<Gender>X</Gender>'))).toMatch(/<Number>3001<\/Number>[\s\S]*Gender/);
    expect(await post(sim.submissionUrl, sample('sample-FPS-2013-14.xml'))).toContain('<Number>3001</Number>');
    expect(sim.stats().submissions.length).toBe(before);
    expect(sim.stats().refused.map((r) => r.reason).slice(-4)).toEqual(['credentials', 'irmark', 'schema', 'schema']);
  });
});
