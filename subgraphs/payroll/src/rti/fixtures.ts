import type { Employer, FpsEmployee, Sender } from './writer.ts';

/** HMRC's test employer (its samples' 635/A635) and three employees, for the writer's and the simulator's tests. */
export const TEST_EMPLOYER: Employer = { officeNumber: '635', payeReference: 'A635', accountsOfficeReference: '635PC00000000' };
export const TEST_SENDER: Sender = { senderId: 'ISV635', password: 'testing1', vendorId: '9999', product: 'Care Hub', version: '1.0', gatewayTest: true };

export function testEmployee(i: number, over: Partial<FpsEmployee> = {}): FpsEmployee {
  return {
    nino: ['AB123456C', 'CE654321A', 'JK112233D'][i % 3],
    title: 'Ms',
    forenames: [['Ann'], ['Bea', 'May'], ['Cat']][i % 3]!,
    surname: ['Adams', 'Brown', 'Clark'][i % 3]!,
    address: { lines: ['1 The Lane', 'Leeds'], postcode: 'LS1 1AA' },
    birthDate: '1980-01-01',
    gender: 'F',
    payId: `E${i + 1}`,
    payment: { frequency: 'M1', paymentDate: '2014-04-30', period: 1, hoursWorked: 'C', taxCode: '1000L', nonCumulative: false, taxablePay: 200000, payAfterStatDedns: 160000, pensionPaid: 0, studentLoan: 0, tax: 23340 },
    ytd: { taxablePay: 200000, tax: 23340, studentLoans: 0, pensionPaid: 0 },
    ni: { letter: 'A', grossInPeriod: 200000, grossYtd: 200000, atLelYtd: 48600, lelToPtYtd: 17700, ptToUelYtd: 133700, employerInPeriod: 18450, employerYtd: 18450, employeeInPeriod: 16044, employeeYtd: 16044 },
    ...over,
  };
}
