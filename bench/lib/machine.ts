import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { pause } from './env.ts';

export interface MachineInfo {
  cpus: number;
  cpuModel: string | undefined;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return { cpus: cpus.length, cpuModel: cpus[0]?.model.trim(), node: process.version, platform: `${os.platform()} ${os.release()}` };
}

/** Milliseconds all cores spent busy and in total since boot. */
function cpuTimes(): { busy: number; total: number } {
  return os.cpus().reduce(
    (acc, c) => {
      const total = Object.values(c.times).reduce((a, b) => a + b, 0);
      return { busy: acc.busy + total - c.times.idle, total: acc.total + total };
    },
    { busy: 0, total: 0 },
  );
}

/**
 * How busy the machine is before a bench starts (0..1 over all cores). On a small shared box a test run or
 * build elsewhere takes cores from the servers, so the report says how quiet the machine was.
 */
export async function backgroundCpuBusy(ms = 1_000): Promise<number> {
  const before = cpuTimes();
  await pause(ms);
  const after = cpuTimes();
  const total = after.total - before.total;
  return total > 0 ? Math.round(((after.busy - before.busy) / total) * 100) / 100 : 0;
}

/** Prints the background load and returns it, for the JSON. */
export async function reportBackgroundCpu(): Promise<number> {
  const busy = await backgroundCpuBusy();
  console.log(`background CPU use before start: ${Math.round(busy * 100)}%${busy > 0.2 ? ' (other processes are competing for the cores: expect noisy numbers)' : ''}`);
  return busy;
}

// ---- where the CPU goes during a phase (Linux /proc; elsewhere only the machine total and this process) ----

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream Linux build). */
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, milliseconds. */
  cpuMs: number;
}

function readProcs(): ProcStat[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const e of entries) {
    try {
      const text = readFileSync(`/proc/${e}/stat`, 'utf8');
      // comm is in parentheses and may contain spaces: the fields after the last ')' are fixed.
      const close = text.lastIndexOf(')');
      const comm = text.slice(text.indexOf('(') + 1, close);
      const f = text.slice(close + 2).split(' ');
      // After comm: state(0) ppid(1) ... utime(11) stime(12)
      out.push({ pid: Number(e), ppid: Number(f[1]), comm, cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS_PER_SECOND });
    } catch {
      // the process ended between readdir and read
    }
  }
  return out;
}

function descendants(procs: ProcStat[], root: number): Set<number> {
  const tree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return tree;
}

export interface CpuSample {
  at: number;
  machine: { busy: number; total: number };
  /** CPU milliseconds per group. */
  groups: Record<string, number>;
}

/**
 * CPU time so far of this process, of each named server's process tree (e.g. the hub and its workers), of
 * PostgreSQL (every backend, whichever database) and of Redis.
 */
export function cpuSample(servers: Record<string, number | undefined>): CpuSample {
  const at = performance.now();
  const procs = readProcs();
  const sum = (match: (p: ProcStat) => boolean) => procs.filter(match).reduce((a, p) => a + p.cpuMs, 0);
  const own = process.cpuUsage();
  const groups: Record<string, number> = { bench: (own.user + own.system) / 1000 };
  for (const [name, pid] of Object.entries(servers)) {
    if (pid === undefined) continue;
    const tree = descendants(procs, pid);
    groups[name] = sum((p) => tree.has(p.pid));
  }
  if (procs.length) {
    groups.postgres = sum((p) => p.comm === 'postgres');
    groups.redis = sum((p) => p.comm.startsWith('redis-server'));
  }
  return { at, machine: cpuTimes(), groups };
}

/**
 * CPU use between two samples, in cores (1.0 = one core fully busy): per group, the machine as a whole and
 * `other` (everything not in a group: other tenants of the box, the kernel's share of networking, ...).
 * Processes that ended in between (a short-lived PostgreSQL backend) are missing from their group.
 */
export function cpuBetween(a: CpuSample, b: CpuSample): Record<string, number> {
  const wallMs = b.at - a.at;
  const cores = os.cpus().length;
  const round = (n: number) => Math.round(n * 100) / 100;
  const machineBusyCores = ((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total || 1)) * cores;
  const out: Record<string, number> = {};
  let grouped = 0;
  for (const name of Object.keys(b.groups)) {
    const used = Math.max(0, (b.groups[name]! - (a.groups[name] ?? 0)) / wallMs);
    out[name] = round(used);
    grouped += used;
  }
  out.other = round(Math.max(0, machineBusyCores - grouped));
  out.machine = round(machineBusyCores);
  return out;
}

export function formatCpu(c: Record<string, number>): string {
  return Object.entries(c)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}
