import nodemailer from 'nodemailer';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  /** The same id on a resend, so the recipient's mail system can tell a repeat. */
  messageId: string;
  attachments: Array<{ filename: string; content: string; contentType: string }>;
}

/** Sends submissions by email over SMTP (nodemailer), one pooled transport per process. */
export function createMailer(o: { url?: string; from: string; timeoutMs: number }) {
  const transport = o.url
    ? nodemailer.createTransport(o.url, { connectionTimeout: o.timeoutMs, greetingTimeout: o.timeoutMs, socketTimeout: o.timeoutMs * 3 } as never)
    : undefined;
  return {
    configured: () => transport !== undefined,
    async send(m: Mail): Promise<string> {
      if (!transport) throw new Error('REGULATORY_SMTP_URL is not set: the hub has no mail relay to send submissions through');
      const info = await transport.sendMail({ from: o.from, to: m.to, subject: m.subject, text: m.text, messageId: m.messageId, attachments: m.attachments.map((a) => ({ ...a, contentTransferEncoding: 'base64' as const })) });
      const rejected = (info.rejected ?? []).map(String);
      if (rejected.length) throw new Error(`the mail relay refused ${rejected.join(', ')}`);
      return info.messageId ?? m.messageId;
    },
    close: () => transport?.close(),
  };
}
