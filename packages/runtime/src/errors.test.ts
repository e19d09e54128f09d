import { describe, expect, it } from 'vitest';
import { badInput, statementTimedOut, toGraphQLError } from './errors.ts';

describe('toGraphQLError', () => {
  it("keeps a HubError's code and details, the code last", () => {
    const e = toGraphQLError(badInput('first must be 1 to 1000', { field: 'first', code: 'NOT_THIS' } as never));
    expect(e.message).toBe('first must be 1 to 1000');
    expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  });

  it("answers PostgreSQL's statement timeout (57014), bare or wrapped by drizzle, as TIMEOUT", () => {
    const pg = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
    const wrapped = Object.assign(new Error('Failed query: select ...'), { cause: pg });
    for (const err of [pg, wrapped]) {
      expect(statementTimedOut(err)).toBe(true);
      expect(toGraphQLError(err).extensions).toMatchObject({ code: 'TIMEOUT', http: { status: 504 } });
    }
  });

  it('hides anything else behind INTERNAL', () => {
    const e = toGraphQLError(Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }));
    expect(e.message).toBe('Internal error');
    expect(e.extensions).toEqual({ code: 'INTERNAL' });
    expect(statementTimedOut(new Error('x'))).toBe(false);
  });
});
