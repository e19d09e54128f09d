import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, readBody, sendJson } from './http.ts';
import type { Faults } from './types.ts';

/** Paths under this prefix are the test harness's control plane and never faulted, limited or counted. */
export const CONTROL_PREFIX = '/__';

export type FaultAction = { latencyMs: number; drop: boolean; status?: number };

/**
 * Holds the active fault plan. `take()` is called once per incoming request and
 * decides synchronously (before any await) whether it is faulted, so concurrent
 * requests can never consume more than `count` faults.
 */
export class FaultInjector {
  private faults: Faults | undefined;
  private remaining = Infinity;

  set(f: Faults): void {
    validateFaults(f);
    const active = (f.status !== undefined || f.drop === true || (f.latencyMs ?? 0) > 0) && f.count !== 0;
    this.faults = active ? { ...f, paths: f.paths ? [...f.paths] : undefined } : undefined;
    this.remaining = f.count ?? Infinity;
  }

  clear(): void {
    this.faults = undefined;
  }

  current(): (Faults & { remaining: number | null }) | null {
    if (!this.faults) return null;
    return { ...this.faults, remaining: Number.isFinite(this.remaining) ? this.remaining : null };
  }

  take(path: string): FaultAction | undefined {
    const f = this.faults;
    if (!f || path.startsWith(CONTROL_PREFIX)) return undefined;
    if (f.paths && !f.paths.some((prefix) => path.startsWith(prefix))) return undefined;
    if (this.remaining <= 0) return undefined;
    this.remaining -= 1;
    if (this.remaining <= 0) this.faults = undefined;
    return { latencyMs: f.latencyMs ?? 0, drop: f.drop === true, status: f.status };
  }
}

/** Rejects malformed plans up front (e.g. from POST /__faults) instead of misbehaving later. */
export function validateFaults(f: unknown): asserts f is Faults {
  if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new TypeError('faults must be a JSON object');
  const o = f as Record<string, unknown>;
  const known = new Set(['status', 'count', 'latencyMs', 'drop', 'paths']);
  for (const key of Object.keys(o)) if (!known.has(key)) throw new TypeError(`unknown fault field "${key}"`);
  if (o.status !== undefined && !(Number.isInteger(o.status) && (o.status as number) >= 400 && (o.status as number) <= 599)) {
    throw new TypeError('status must be an integer 400-599');
  }
  if (o.count !== undefined && !(Number.isInteger(o.count) && (o.count as number) >= 0)) {
    throw new TypeError('count must be a non-negative integer');
  }
  if (o.latencyMs !== undefined && !(typeof o.latencyMs === 'number' && o.latencyMs >= 0 && Number.isFinite(o.latencyMs))) {
    throw new TypeError('latencyMs must be a non-negative number');
  }
  if (o.drop !== undefined && typeof o.drop !== 'boolean') throw new TypeError('drop must be a boolean');
  if (o.paths !== undefined && !(Array.isArray(o.paths) && o.paths.every((p) => typeof p === 'string' && p.startsWith('/')))) {
    throw new TypeError('paths must be an array of path prefixes starting with "/"');
  }
}

type ControlHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** The `/__faults` control route every simulator serves: GET the plan, POST a new one (validated), DELETE it. */
export function faultControlRoutes(faults: FaultInjector): Record<string, Record<string, ControlHandler>> {
  return {
    [`${CONTROL_PREFIX}faults`]: {
      GET: (req, res) => sendJson(req, res, 200, { faults: faults.current() }),
      POST: async (req, res) => {
        const text = await readBody(req);
        try {
          const body: unknown = JSON.parse(text || '{}');
          validateFaults(body);
          faults.set(body);
        } catch (err) {
          throw new HttpError(400, 'invalid_request', err instanceof Error ? err.message : String(err));
        }
        sendJson(req, res, 200, { faults: faults.current() });
      },
      DELETE: (req, res) => {
        faults.clear();
        sendJson(req, res, 200, { faults: null });
      },
    },
  };
}
