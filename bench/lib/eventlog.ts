import postgres from 'postgres';
import type { Acknowledged } from './publish.ts';

export interface LogCheck {
  /** events.head.last: the last sequence handed out. */
  head: number;
  rows: number;
  minSequence: number;
  maxSequence: number;
  /** rows = max - min + 1 and head = max: no holes, nothing handed out but missing. */
  gapFree: boolean;
  /**
   * Per event type the bench published: events the hub acknowledged, how many of them are in the log with that
   * type, rows of that type in the log, and the transactions that wrote them (distinct xmin): rows per
   * transaction shows how much the group commit merged.
   */
  byType: Record<string, { acknowledged: number; acknowledgedInLog: number; rowsInLog: number; transactions: number; rowsPerTransaction: number; overlappingAcknowledgements: number }>;
}

/** Sorted-range check: two acknowledgements for the same sequence would mean a sequence was handed out twice. */
function overlaps(ack: Acknowledged): number {
  const order = ack.firsts.map((_, i) => i).sort((a, b) => ack.firsts[a]! - ack.firsts[b]!);
  let count = 0;
  let prevLast = 0;
  for (const i of order) {
    if (ack.firsts[i]! <= prevLast) count++;
    prevLast = Math.max(prevLast, ack.lasts[i]!);
  }
  return count;
}

/**
 * Reads the log straight from PostgreSQL after the load: is it gap-free, and is every event the hub acknowledged
 * in it, under the type it was published with? (Rows beyond the acknowledged ones are publishes that were still
 * in flight when a load run stopped: committed, but their response was never read.)
 */
export async function checkLog(databaseUrl: string, acknowledged: Record<string, Acknowledged>): Promise<LogCheck> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [head] = await sql<{ last: string }[]>`select last from events.head where id = 1`;
    const [stats] = await sql<{ rows: string; min: string | null; max: string | null }[]>`
      select count(*) as rows, min(sequence) as min, max(sequence) as max from events.events`;
    const byType: LogCheck['byType'] = {};
    for (const [type, ack] of Object.entries(acknowledged)) {
      const [inLog] = await sql<{ n: string }[]>`
        select count(*) as n
        from unnest(${sql.array(ack.firsts)}::bigint[], ${sql.array(ack.lasts)}::bigint[]) as r(first, last)
        join events.events e on e.sequence between r.first and r.last
        where e.type = ${type}`;
      const [ofType] = await sql<{ n: string; txs: string }[]>`
        select count(*) as n, count(distinct xmin::text) as txs from events.events where type = ${type}`;
      const rowsInLog = Number(ofType!.n);
      const transactions = Number(ofType!.txs);
      byType[type] = {
        acknowledged: ack.events,
        acknowledgedInLog: Number(inLog!.n),
        rowsInLog,
        transactions,
        rowsPerTransaction: transactions ? Math.round((rowsInLog / transactions) * 10) / 10 : 0,
        overlappingAcknowledgements: overlaps(ack),
      };
    }
    const rows = Number(stats!.rows);
    const min = Number(stats!.min ?? 0);
    const max = Number(stats!.max ?? 0);
    const last = Number(head?.last ?? 0);
    return { head: last, rows, minSequence: min, maxSequence: max, gapFree: rows === (rows ? max - min + 1 : 0) && last === max, byType };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export function logProblems(c: LogCheck): string[] {
  const problems: string[] = [];
  if (!c.gapFree) problems.push(`the log is not gap-free: ${c.rows} rows for sequences ${c.minSequence}..${c.maxSequence}, head ${c.head}`);
  for (const [type, t] of Object.entries(c.byType)) {
    if (t.acknowledgedInLog !== t.acknowledged) problems.push(`${type}: ${t.acknowledged} events acknowledged, ${t.acknowledgedInLog} of them in the log`);
    if (t.overlappingAcknowledgements) problems.push(`${type}: ${t.overlappingAcknowledgements} acknowledgements reuse a sequence`);
  }
  return problems;
}
