import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { badInput } from '@hub/runtime';
import { toMinor } from './money.ts';

/**
 * ISO 20022 camt.053 (BankToCustomerStatement), the statement file UK and European banks send, read into what the
 * hub keeps: each statement's account, period and booked balances, and each entry with its amount in minor units,
 * direction, dates and the references a payment is recognised by (end-to-end id, remittance text). Versions
 * camt.053.001.02 to .001.08 share these elements.
 */
export interface StatementEntry {
  amountMinor: bigint;
  currency: string;
  direction: 'CREDIT' | 'DEBIT';
  status: string;
  reversal: boolean;
  bookingDate: string | null;
  valueDate: string | null;
  reference: string | null;
  remittance: string | null;
  counterpartyName: string | null;
  counterpartyAccount: string | null;
  bankReference: string | null;
}

export interface Statement {
  account: string;
  currency: string | null;
  statementId: string;
  messageId: string | null;
  createdAt: Date | null;
  from: Date | null;
  to: Date | null;
  opening: { minor: bigint; currency: string } | null;
  closing: { minor: bigint; currency: string } | null;
  entries: StatementEntry[];
}

const LISTS = new Set(['Stmt', 'Bal', 'Ntry', 'TxDtls', 'Ustrd', 'Strd', 'NtryDtls']);
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => LISTS.has(name),
});

type Node = Record<string, any>;
const text = (v: unknown): string | null => (v == null ? null : typeof v === 'object' ? ((v as Node)['#text'] ?? null) : String(v));
const date = (d: Node | undefined): string | null => text(d?.Dt) ?? (text(d?.DtTm)?.slice(0, 10) || null);
const when = (v: unknown): Date | null => {
  const t = text(v);
  if (!t) return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
};

function amount(node: unknown, where: string): { minor: bigint; currency: string } {
  const value = text(node);
  const currency = (node as Node | undefined)?.['@Ccy'];
  if (value == null || typeof currency !== 'string') throw badInput(`camt.053: ${where} has no amount with a currency (Amt Ccy="...")`, { field: 'xml', where });
  return { minor: toMinor(value, currency, `camt.053 ${where}`), currency };
}

function account(acct: Node | undefined): string | null {
  const id = acct?.Id;
  return text(id?.IBAN) ?? text(id?.Othr?.Id) ?? null;
}

/** Reads a camt.053 message; anything else (another message type, broken XML, missing amounts) is a BAD_USER_INPUT. */
export function readCamt053(xml: string): { messageId: string | null; statements: Statement[] } {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw badInput('camt.053: a DOCTYPE or entity declaration is not accepted', { field: 'xml' });
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw badInput(`camt.053: not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`, { field: 'xml', line: valid.err.line });
  const doc = parser.parse(xml) as Node;
  const ns: unknown = doc.Document?.['@xmlns'];
  const root: Node | undefined = doc.Document?.BkToCstmrStmt;
  if (!root || (typeof ns === 'string' && !ns.startsWith('urn:iso:std:iso:20022:tech:xsd:camt.053.'))) {
    throw badInput(`camt.053: expected a BankToCustomerStatement document (camt.053)${typeof ns === 'string' ? `, got ${ns}` : ''}`, { field: 'xml' });
  }
  const messageId = text(root.GrpHdr?.MsgId);
  const stmts: Node[] = root.Stmt ?? [];
  if (!stmts.length) throw badInput('camt.053: the document has no statement (Stmt)', { field: 'xml' });

  const statements = stmts.map((s, si): Statement => {
    const where = `statement ${si + 1}`;
    const acct = account(s.Acct);
    const statementId = text(s.Id);
    if (!acct || !statementId) throw badInput(`camt.053: ${where} has no ${acct ? 'Id' : 'account (Acct/Id/IBAN or Othr/Id)'}`, { field: 'xml', where });
    const balance = (code: string) => {
      const b = (s.Bal ?? []).find((x: Node) => text(x.Tp?.CdOrPrtry?.Cd) === code);
      if (!b) return null;
      const a = amount(b.Amt, `${where} balance ${code}`);
      return { minor: text(b.CdtDbtInd) === 'DBIT' ? -a.minor : a.minor, currency: a.currency };
    };
    const entries = (s.Ntry ?? []).map((n: Node, ni: number): StatementEntry => {
      const at = `${where} entry ${ni + 1}`;
      const a = amount(n.Amt, at);
      const ind = text(n.CdtDbtInd);
      if (ind !== 'CRDT' && ind !== 'DBIT') throw badInput(`camt.053: ${at} has CdtDbtInd ${JSON.stringify(ind)}, not CRDT or DBIT`, { field: 'xml', where: at });
      const tx: Node = n.NtryDtls?.[0]?.TxDtls?.[0] ?? {};
      const credit = ind === 'CRDT';
      const party = credit ? tx.RltdPties?.Dbtr : tx.RltdPties?.Cdtr;
      const partyAcct = credit ? tx.RltdPties?.DbtrAcct : tx.RltdPties?.CdtrAcct;
      const remittance = [...(tx.RmtInf?.Ustrd ?? []).map(text), ...(tx.RmtInf?.Strd ?? []).map((x: Node) => text(x.CdtrRefInf?.Ref))].filter(Boolean).join(' ');
      const status = text(n.Sts?.Cd) ?? text(n.Sts) ?? 'BOOK';
      return {
        amountMinor: a.minor,
        currency: a.currency,
        direction: credit ? 'CREDIT' : 'DEBIT',
        status,
        reversal: text(n.RvslInd) === 'true',
        bookingDate: date(n.BookgDt),
        valueDate: date(n.ValDt),
        reference: text(tx.Refs?.EndToEndId) ?? null,
        remittance: remittance || text(n.AddtlNtryInf) || null,
        counterpartyName: text(party?.Nm) ?? text(party?.Pty?.Nm) ?? null,
        counterpartyAccount: account(partyAcct),
        bankReference: text(n.AcctSvcrRef) ?? text(tx.Refs?.AcctSvcrRef) ?? null,
      };
    });
    return {
      account: acct,
      currency: text(s.Acct?.Ccy),
      statementId,
      messageId,
      createdAt: when(s.CreDtTm),
      from: when(s.FrToDt?.FrDtTm),
      to: when(s.FrToDt?.ToDtTm),
      opening: balance('OPBD'),
      closing: balance('CLBD'),
      entries,
    };
  });
  return { messageId, statements };
}

/** Opening + credits − debits = closing, over booked entries in the balances' currency; null when it cannot be said. */
export function isBalanced(s: Statement): boolean | null {
  if (!s.opening || !s.closing || s.opening.currency !== s.closing.currency) return null;
  const c = s.opening.currency;
  if (s.entries.some((e) => e.currency !== c)) return null;
  const moved = s.entries.filter((e) => e.status === 'BOOK').reduce((sum, e) => sum + (e.direction === 'CREDIT' ? e.amountMinor : -e.amountMinor), 0n);
  return s.opening.minor + moved === s.closing.minor;
}
