import { describe, expect, it } from 'vitest';
import { readData, writeData } from './index.ts';

const csvRows = (value: unknown) => (writeData('CSV', value).text as string).split('\r\n');

describe('CSV output: formula cells', () => {
  it.each([
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    ['+44 7700 900123', "'+44 7700 900123"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tcmd', "'\tcmd"],
    ['\rcmd', "'\rcmd"],
  ])('escapes %j so a spreadsheet shows it as text', (cell, written) => {
    expect(csvRows([{ note: cell }])[1]).toBe(written);
  });

  it('leaves numbers (negative ones too) and ordinary text alone, and reads back what it wrote', () => {
    expect(csvRows([{ amount: -12.5, n: 3, name: 'Smith-Jones', email: 'a@b.uk' }])[1]).toBe('-12.5,3,Smith-Jones,a@b.uk');
    expect(readData('CSV', writeData('CSV', [{ note: '=1+1' }]).text)).toEqual([{ note: "'=1+1" }]);
  });

  it('escapes nested values flattened into columns as well', () => {
    expect(csvRows({ name: { given: ['=cmd'] } })).toEqual(['name.given.0', "'=cmd", '']);
  });
});
