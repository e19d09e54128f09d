import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

/** A graphql-ws subscription that collects what arrives, for assertions. */
export interface Collector<T> {
  received: T[];
  errors: unknown[];
  /** Resolves once `n` results have arrived (or rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<T[]>;
  stop(): void;
}

export function wsClient(httpUrl: string): Client {
  return createClient({ url: `${httpUrl.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
}

export function collect<T, V>(client: Client, doc: TypedDocumentNode<T, V>, variables?: V): Collector<T> {
  const received: T[] = [];
  const errors: unknown[] = [];
  const waiters: Array<() => void> = [];
  const stop = client.subscribe<T>(
    { query: print(doc), variables: variables as Record<string, unknown> },
    {
      next: (r) => {
        if (r.errors?.length) errors.push(...r.errors);
        if (r.data) received.push(r.data as T);
        waiters.forEach((w) => w());
      },
      error: (e) => {
        errors.push(e);
        waiters.forEach((w) => w());
      },
      complete: () => {},
    },
  );
  return {
    received,
    errors,
    stop,
    waitFor(n, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (errors.length) reject(new Error(`subscription errors: ${JSON.stringify(errors)}`));
          else if (received.length >= n) resolve(received.slice(0, n));
        };
        waiters.push(check);
        check();
        setTimeout(() => reject(new Error(`only ${received.length} of ${n} results within ${ms} ms`)), ms).unref();
      });
    },
  };
}
