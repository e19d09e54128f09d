import { createHash } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';

/** The few DOM members used here (xmldom 0.8 ships no Node/Element types of its own). */
export interface XNode {
  nodeType: number;
  localName?: string | null;
  namespaceURI?: string | null;
  nodeValue?: string | null;
  firstChild: XNode | null;
  nextSibling: XNode | null;
  parentNode: XNode | null;
  childNodes: ArrayLike<XNode>;
  removeChild(n: XNode): unknown;
  setAttributeNS(ns: string, name: string, value: string): void;
}
type Element = XNode;
type Node = XNode;
import { C14nCanonicalization } from 'xml-crypto';

/**
 * The IRmark (HMRC IRmark Generic Specification v1.2): the GovTalk message's Body, with the envelope namespace
 * declared on it and the IRmark element removed, canonicalised (W3C inclusive C14N, no comments), SHA-1; base64 in
 * the message, base32 as the human-readable form on receipts. Line ends are normalised to LF first, as an XML parser does.
 */
export const ENVELOPE_NS = 'http://www.govtalk.gov.uk/CM/envelope';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

function elementsByLocalName(root: Node, name: string): Element[] {
  const out: Element[] = [];
  const walk = (n: Node) => {
    for (let c = n.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 1) {
        if ((c as Element).localName === name) out.push(c as Element);
        walk(c);
      }
    }
  };
  walk(root);
  return out;
}

export function parseXml(xml: string) {
  const errors: string[] = [];
  const doc = new DOMParser({ errorHandler: { warning: () => {}, error: (m: string) => void errors.push(m), fatalError: (m: string) => void errors.push(m) } }).parseFromString(xml.replace(/\r\n?/g, '\n'), 'text/xml');
  if (errors.length || !doc.documentElement) throw new Error(`not well-formed XML: ${errors[0] ?? 'no root element'}`);
  return doc as unknown as XNode & { documentElement: XNode };
}

/** The canonical bytes the IRmark is the digest of. */
export function irmarkCanonicalBody(xml: string): string {
  const doc = parseXml(xml);
  const body = elementsByLocalName(doc, 'Body').find((b) => b.namespaceURI === ENVELOPE_NS);
  if (!body) throw new Error('no GovTalk Body in the message');
  for (const mark of elementsByLocalName(body, 'IRmark')) {
    // The element alone: the whitespace around it stays (as HMRC's samples were marked).
    mark.parentNode!.removeChild(mark);
  }
  body.setAttributeNS(XMLNS_NS, 'xmlns', ENVELOPE_NS);
  return new C14nCanonicalization().process(body as never, {}) as string;
}

export function irmarkDigest(xml: string): Buffer {
  return createHash('sha1').update(irmarkCanonicalBody(xml), 'utf8').digest();
}

/** The IRmark as it goes in the message (base64). */
export function irmark(xml: string): string {
  return irmarkDigest(xml).toString('base64');
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** RFC 4648 base32 without padding: the IRmark's human-readable form. */
export function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** The IRmark a message carries, or null. */
export function irmarkInMessage(xml: string): string | null {
  const m = /<(?:\w+:)?IRmark\b[^>]*>([^<]*)<\/(?:\w+:)?IRmark>/.exec(xml);
  return m ? m[1]!.trim() : null;
}

/** Puts the IRmark into a message whose IRmark element holds a placeholder. */
export function withIrmark(xml: string): string {
  const mark = irmark(xml);
  return xml.replace(/(<(?:\w+:)?IRmark\b[^>]*>)[^<]*(<\/(?:\w+:)?IRmark>)/, `$1${mark}$2`);
}
