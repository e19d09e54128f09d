import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BankStatementIdsDocument,
  BankStatementsDocument,
  ExpectedPaymentsDocument,
  ExpectPaymentDocument,
  HistoryDocument,
  ImportBankStatementDocument,
  UnmatchedBankCreditsDocument,
} from '../generated/graphql.ts';
import { eventually, startTestHub, type TestHub } from '../support/hub.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/camt053/${name}`, import.meta.url), 'utf8');
const code = (r: { errors?: Array<{ extensions?: Record<string, any> }> }) => r.errors?.[0]?.extensions?.code;

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await hub?.close();
});

/** A care home's GBP account statement: three credits quoting invoices (one unknown), a debit, balances that add up. */
function homeStatement(id: string, o: { closing?: string; extraCredit?: string; usualCredits?: boolean } = {}) {
  const credit = (amount: string, e2e: string, text: string, payer: string) => `
      <Ntry>
        <Amt Ccy="GBP">${amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2026-11-02</Dt></BookgDt><ValDt><Dt>2026-11-02</Dt></ValDt>
        <AcctSvcrRef>BANK-${e2e}</AcctSvcrRef>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>${e2e}</EndToEndId></Refs>
          <RltdPties><Dbtr><Nm>${payer}</Nm></Dbtr><DbtrAcct><Id><IBAN>GB33BUKB20201555555555</IBAN></Id></DbtrAcct></RltdPties>
          <RmtInf><Ustrd>${text}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG-${id}</MsgId><CreDtTm>2026-11-03T06:00:00Z</CreDtTm></GrpHdr>
    <Stmt>
      <Id>${id}</Id>
      <CreDtTm>2026-11-03T06:00:00Z</CreDtTm>
      <FrToDt><FrDtTm>2026-11-02T00:00:00Z</FrDtTm><ToDtTm>2026-11-02T23:59:59Z</ToDtTm></FrToDt>
      <Acct><Id><IBAN>GB29NWBK60161331926819</IBAN></Id><Ccy>GBP</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="GBP">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-01</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="GBP">${o.closing ?? '6380.50'}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-02</Dt></Dt></Bal>
      ${o.usualCredits === false ? '' : credit('3200.00', 'INV-1001', 'Fees November room 12 INV-1001', 'Mrs A Smith')}
      ${o.usualCredits === false ? '' : credit('1500.00', 'NOTPROVIDED', 'part payment inv-1002 thanks', 'Cardiff Council')}
      ${o.usualCredits === false ? '' : credit('980.50', 'X-77', 'Donation', 'Friends of Rose House')}
      ${o.extraCredit ?? ''}
      <Ntry>
        <Amt Ccy="GBP">300.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2026-11-02</Dt></BookgDt>
        <NtryDtls><TxDtls><Refs><EndToEndId>INV-1001</EndToEndId></Refs><RltdPties><Cdtr><Nm>Laundry Ltd</Nm></Cdtr></RltdPties></TxDtls></NtryDtls>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>`;
}

describe('bank statements (ISO 20022 camt.053)', () => {
  it('imports the sample statements as the samples say a parser should read them, each once', async () => {
    for (const [file, statements] of [['camt053.v2.minimal', 1], ['camt053.v2.multi.statement', 2], ['camt053.v4', 1]] as const) {
      const { importBankStatement } = await hub.ok(ImportBankStatementDocument, { xml: fixture(`${file}.xml`) });
      expect(importBankStatement, file).toHaveLength(statements);
      const expected = JSON.parse(fixture(`${file}.json`)).getEntries as Array<{ getAmount: { getAmount: string; getCurrency: { getCode: string } }; getBookingDate: { 0: string }; getValueDate?: { 0: string } }>;
      const entries = importBankStatement.flatMap((s) => s.entries);
      for (const e of expected) {
        // The sample's amounts are in minor units, negative for debits.
        const minor = Number(e.getAmount.getAmount);
        const found = entries.find((x) => Math.round(Number(x.amount.amount) * 100) * (x.direction === 'DEBIT' ? -1 : 1) === minor);
        expect(found, `${file} ${minor}`).toMatchObject({ amount: { currency: e.getAmount.getCurrency.getCode }, bookingDate: e.getBookingDate[0].slice(0, 10) });
        if (e.getValueDate) expect(found!.valueDate).toBe(e.getValueDate[0].slice(0, 10));
      }
      const again = await hub.ok(ImportBankStatementDocument, { xml: fixture(`${file}.xml`) });
      expect(again.importBankStatement.map((s) => [s.id, s.duplicate])).toEqual(importBankStatement.map((s) => [s.id, true]));
    }
    const minimal = (await hub.ok(BankStatementsDocument, { account: 'NL26VAYB8060476890' })).bankStatements.find((s) => s.statementId === '253EURNL26VAYB8060476890')!;
    expect(minimal).toMatchObject({ currency: 'EUR', messageId: 'CAMT053RIB000000000001', openingBalance: { amount: '18.15', currency: 'EUR' } });
    // The sample's closing balance is in another currency: whether it adds up cannot be said.
    expect(minimal.balanced).toBeNull();
    expect(minimal.entries).toHaveLength(1);
  });

  it('reconciles credits with expected payments by reference, keeps the rest for someone to look at, and announces it', async () => {
    const fees = await hub.ok(ExpectPaymentDocument, { input: { reference: 'INV-1001', amount: '3200', currency: 'GBP', payer: 'Mrs A Smith', dueDate: '2026-11-01', description: 'November fees, room 12' } });
    expect(fees.expectPayment).toMatchObject({ status: 'EXPECTED', amount: { amount: '3200.00', currency: 'GBP' }, received: { amount: '0.00' } });
    await hub.ok(ExpectPaymentDocument, { input: { reference: 'INV-1002', amount: '2400.00', currency: 'GBP', payer: 'Cardiff Council' } });
    await hub.ok(ExpectPaymentDocument, { input: { reference: 'INV-100', amount: '10.00', currency: 'GBP' } });

    const [s] = (await hub.ok(ImportBankStatementDocument, { xml: homeStatement('RH-2026-11-02') })).importBankStatement;
    expect(s).toMatchObject({ account: 'GB29NWBK60161331926819', balanced: true, matchedPayments: 2, duplicate: false, closingBalance: { amount: '6380.50', currency: 'GBP' } });
    expect(s!.entries.map((e) => [e.amount.amount, e.direction, e.expectedPayment?.reference ?? null])).toEqual([
      ['3200.00', 'CREDIT', 'INV-1001'],
      ['1500.00', 'CREDIT', 'INV-1002'],
      ['980.50', 'CREDIT', null],
      ['300.00', 'DEBIT', null],
    ]);
    expect(s!.entries[0]).toMatchObject({ reference: 'INV-1001', counterpartyName: 'Mrs A Smith', counterpartyAccount: 'GB33BUKB20201555555555', bankReference: 'BANK-INV-1001' });

    const payments = Object.fromEntries((await hub.ok(ExpectedPaymentsDocument, {})).expectedPayments.map((p) => [p.reference, p]));
    expect(payments['INV-1001']).toMatchObject({ status: 'PAID', received: { amount: '3200.00' } });
    expect(payments['INV-1002']).toMatchObject({ status: 'PART_PAID', received: { amount: '1500.00' } });
    // INV-100 is not INV-1001 or INV-1002: a reference is matched as a word, not as part of another.
    expect(payments['INV-100']).toMatchObject({ status: 'EXPECTED', received: { amount: '0.00' }, entries: [] });
    expect((await hub.ok(ExpectedPaymentsDocument, { status: 'PART_PAID' })).expectedPayments.map((p) => p.reference)).toEqual(['INV-1002']);
    expect((await hub.ok(UnmatchedBankCreditsDocument, { account: 'GB29NWBK60161331926819' })).unmatchedBankCredits.map((e) => e.remittance)).toEqual(['Donation']);

    // The rest of INV-1002 arrives on the next day's statement; importing that one twice pays nothing twice.
    const rest = `<Ntry><Amt Ccy="GBP">900.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-03</Dt></BookgDt>
      <NtryDtls><TxDtls><RmtInf><Ustrd>INV-1002 balance</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>`;
    const next = homeStatement('RH-2026-11-03', { usualCredits: false, extraCredit: rest, closing: '1600.00' });
    expect((await hub.ok(ImportBankStatementDocument, { xml: next })).importBankStatement[0]).toMatchObject({ matchedPayments: 1, balanced: true });
    expect((await hub.ok(ImportBankStatementDocument, { xml: next })).importBankStatement[0]).toMatchObject({ duplicate: true, matchedPayments: 0 });
    const settled = (await hub.ok(ExpectedPaymentsDocument, {})).expectedPayments.find((p) => p.reference === 'INV-1002')!;
    expect(settled).toMatchObject({ status: 'PAID', received: { amount: '2400.00' } });
    expect(settled.entries.map((e) => e.amount.amount)).toEqual(['1500.00', '900.00']);

    const events = await eventually(async () => {
      const { eventHistory } = await hub.ok(HistoryDocument, { filter: { types: ['bank.*'] }, first: 100 });
      return eventHistory.events.filter((e) => e.type === 'bank.payment_received').length >= 3 ? eventHistory.events : undefined;
    });
    const received = events.filter((e) => e.type === 'bank.payment_received').map((e) => [e.correlationId, (e.payload as { amount: string }).amount, (e.payload as { status: string }).status]);
    expect(received).toEqual([
      ['INV-1001', '3200.00', 'PAID'],
      ['INV-1002', '1500.00', 'PART_PAID'],
      ['INV-1002', '900.00', 'PAID'],
    ]);
    expect(events.filter((e) => e.type === 'bank.statement_imported').length).toBeGreaterThanOrEqual(2);
  });

  it('says when balances do not add up', async () => {
    const [s] = (await hub.ok(ImportBankStatementDocument, { xml: homeStatement('RH-2026-11-04', { closing: '6380.49' }) })).importBankStatement;
    expect(s!.balanced).toBe(false);
  });

  it('refuses what is not a camt.053 statement, naming the problem, and keeps nothing of it', async () => {
    const before = (await hub.ok(BankStatementIdsDocument, { first: 500 })).bankStatements.length;
    const cases: Array<[string, RegExp]> = [
      ['not xml at all', /not well-formed XML/],
      ['<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn/></Document>', /expected a BankToCustomerStatement/],
      ['<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><GrpHdr><MsgId>1</MsgId></GrpHdr></BkToCstmrStmt></Document>', /no statement/],
      [homeStatement('RH-BAD-1').replace('<Amt Ccy="GBP">980.50</Amt>', '<Amt>980.50</Amt>'), /statement 1 entry 3 has no amount with a currency/],
      [homeStatement('RH-BAD-2').replace('<Amt Ccy="GBP">980.50</Amt>', '<Amt Ccy="GBP">980.505</Amt>'), /not an amount in GBP/],
      [homeStatement('RH-BAD-3').replace('<CdtDbtInd>DBIT</CdtDbtInd><Sts>', '<CdtDbtInd>SIDEWAYS</CdtDbtInd><Sts>'), /CdtDbtInd "SIDEWAYS"/],
      ['<!DOCTYPE d [<!ENTITY x "y">]><Document/>', /DOCTYPE/],
    ];
    for (const [xml, message] of cases) {
      const r = await hub.gql(ImportBankStatementDocument, { xml });
      expect(code(r), message.source).toBe('BAD_USER_INPUT');
      expect(r.errors![0]!.message).toMatch(message);
    }
    expect((await hub.ok(BankStatementIdsDocument, { first: 500 })).bankStatements.length).toBe(before);
  });

  it('checks expected payments: reference, amount, currency and date; a reference once', async () => {
    for (const input of [
      { reference: 'x', amount: '10', currency: 'GBP' },
      { reference: 'INV 9', amount: '10', currency: 'GBP' },
      { reference: 'INV-9', amount: '10.001', currency: 'GBP' },
      { reference: 'INV-9', amount: '-5', currency: 'GBP' },
      { reference: 'INV-9', amount: '10', currency: 'pounds' },
      { reference: 'INV-9', amount: '10', currency: 'GBP', dueDate: '31/01/2026' },
    ]) {
      expect(code(await hub.gql(ExpectPaymentDocument, { input })), JSON.stringify(input)).toBe('BAD_USER_INPUT');
    }
    await hub.ok(ExpectPaymentDocument, { input: { reference: 'INV-9', amount: '1500', currency: 'JPY' } });
    expect(code(await hub.gql(ExpectPaymentDocument, { input: { reference: 'INV-9', amount: '10', currency: 'GBP' } }))).toBe('CONFLICT');
    expect((await hub.ok(ExpectedPaymentsDocument, {})).expectedPayments.find((p) => p.reference === 'INV-9')!.amount).toEqual({ amount: '1500', currency: 'JPY' });
  });
});
