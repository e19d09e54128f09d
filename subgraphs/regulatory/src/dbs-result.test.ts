import { describe, expect, it } from 'vitest';
import { dbsDate, parseStatusCheck } from './dbs-result.ts';

// The stand-in's sample answer (specs/regulatory/dbs/README.md).
const SAMPLE = `<statusCheckResult>
    <statusCheckResultType>SUCCESS</statusCheckResultType>
    <status>BLANK_NO_NEW_INFO</status>
    <forename>TAYLOR</forename>
    <surname>SWIFT</surname>
    <printDate class="sql-date">2024-04-22</printDate>
</statusCheckResult>`;

describe('a DBS status check answer', () => {
  it('reads the sample', () => {
    expect(parseStatusCheck(SAMPLE)).toEqual({ resultType: 'SUCCESS', status: 'BLANK_NO_NEW_INFO', forename: 'TAYLOR', surname: 'SWIFT', printDate: '2024-04-22' });
    expect(parseStatusCheck(SAMPLE.replace('BLANK_NO_NEW_INFO', 'NEW_INFO')).status).toBe('NEW_INFO');
  });

  it('refuses what is not an answer, and a status it does not know', () => {
    expect(() => parseStatusCheck('Bad Request')).toThrow(/no <statusCheckResult>/);
    expect(() => parseStatusCheck(SAMPLE.replace('BLANK_NO_NEW_INFO', 'ALL_GOOD'))).toThrow(/"ALL_GOOD" is not one/);
    expect(() => parseStatusCheck('<statusCheckResult><statusCheckResultType>SUCCESS</statusCheckResultType></statusCheckResult>')).toThrow(/status is missing/);
  });

  it('writes a date of birth as the service takes it', () => {
    expect(dbsDate('1990-03-07')).toBe('07/03/1990');
  });
});
