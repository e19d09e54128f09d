import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RequestContext } from '@hub/runtime';

/**
 * Every request has a time budget (REQUEST_TIMEOUT_MS). Its signal travels in the request context: to the gateway's
 * subgraph fetches (datasource.ts), to in-process resolvers (`ctx.signal`) and from them to database queries and
 * outbound calls. When it is spent the client is answered TIMEOUT (HTTP 504) at once, and the work still running is
 * aborted rather than left to finish for nobody.
 */
export const TIMEOUT = 'TIMEOUT';

class BudgetSpent extends Error {
  constructor(readonly ms: number) {
    super(`the request took longer than its ${ms} ms budget`);
    this.name = 'TimeoutError';
  }
}

const timers = new WeakMap<AbortSignal, ReturnType<typeof setTimeout>>();

/** A signal aborted after `ms`, or when `parent` (the client's own request) is aborted first. */
export function deadline(ms: number, parent?: AbortSignal | null): AbortSignal {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new BudgetSpent(ms)), ms);
  timer.unref?.();
  timers.set(ac.signal, timer);
  ac.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  if (parent) {
    if (parent.aborted) ac.abort(parent.reason);
    else parent.addEventListener('abort', () => ac.abort(parent.reason), { once: true, signal: ac.signal });
  }
  return ac.signal;
}

/** The request has been answered: its timer need not hold the request's context until the budget would end. */
export function finished(signal: AbortSignal | undefined): void {
  if (signal) clearTimeout(timers.get(signal));
}

export function timeoutError(signal?: AbortSignal): GraphQLError {
  const reason = signal?.reason;
  const message = reason instanceof BudgetSpent ? reason.message : 'the request was cancelled before it finished';
  return new GraphQLError(message, { extensions: { code: TIMEOUT, ...(reason instanceof BudgetSpent ? { budgetMs: reason.ms } : {}), http: { status: 504 } } });
}

/**
 * The yoga side: execution races the request's signal. Place it after the plugin that sets the execute function
 * (useApolloFederation), so that is the function it wraps.
 */
export function useTimeBudget(): Plugin {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const signal = (args.contextValue as RequestContext).signal;
      if (!signal) return;
      setExecuteFn((a) => {
        if (signal.aborted) return { errors: [timeoutError(signal)] } as ExecutionResult;
        return new Promise<ExecutionResult>((resolve, reject) => {
          const stop = () => resolve({ errors: [timeoutError(signal)] });
          signal.addEventListener('abort', stop, { once: true });
          Promise.resolve(executeFn(a) as Promise<ExecutionResult>).then(
            (r) => {
              signal.removeEventListener('abort', stop);
              finished(signal);
              resolve(r);
            },
            (err) => {
              signal.removeEventListener('abort', stop);
              reject(err);
            },
          );
        });
      });
    },
  };
}
