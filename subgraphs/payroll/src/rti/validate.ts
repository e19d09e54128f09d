import { XMLSerializer } from '@xmldom/xmldom';
import { validateXML } from 'xmllint-wasm';
import { ENVELOPE_NS, parseXml, type XNode } from './irmark.ts';
import { XMLDSIG_STUB, type RtiPack } from './packs.ts';

/**
 * Validates a GovTalk message against its year's schemas with libxml2 (xmllint, as WebAssembly): the envelope against
 * the GovTalk envelope schema, and the Body's IRenvelope against the FPS or EPS schema.
 */
export interface SchemaError {
  message: string;
  line: number | null;
}

async function lint(xml: string, fileName: string, schemas: Array<{ fileName: string; contents: string }>): Promise<SchemaError[]> {
  const r = await validateXML({ xml: [{ fileName, contents: xml }], schema: schemas[0]!, preload: schemas.slice(1) });
  if (r.valid) return [];
  // Warnings of the schema parser are not the document's errors.
  return r.errors.filter((e) => !/Schemas parser warning/.test(e.message)).map((e) => ({ message: e.message.trim(), line: e.loc?.lineNumber ?? null }));
}

export async function validateMessage(xml: string, pack: RtiPack, kind: 'fps' | 'eps'): Promise<SchemaError[]> {
  const envelope = await lint(xml, 'message.xml', [
    { fileName: 'envelope.xsd', contents: pack.envelopeSchema },
    { fileName: 'xmldsig-stub.xsd', contents: XMLDSIG_STUB },
  ]);
  if (envelope.length) return envelope;
  let root: XNode;
  try {
    root = parseXml(xml).documentElement;
  } catch (e) {
    return [{ message: (e as Error).message, line: null }];
  }
  const body = Array.from(root.childNodes).find((n) => n.nodeType === 1 && n.localName === 'Body' && n.namespaceURI === ENVELOPE_NS);
  const ir = body ? Array.from(body.childNodes).find((n) => n.nodeType === 1) : undefined;
  if (!ir) return [{ message: 'the Body holds no IRenvelope', line: null }];
  const doc2 = pack[kind];
  if (ir.namespaceURI !== doc2.namespace) return [{ message: `the IRenvelope is in ${ir.namespaceURI}, not ${doc2.namespace} (tax year ${pack.taxYear})`, line: null }];
  return lint(new XMLSerializer().serializeToString(ir as never), 'body.xml', [{ fileName: doc2.schemaFile, contents: doc2.schema }]);
}
