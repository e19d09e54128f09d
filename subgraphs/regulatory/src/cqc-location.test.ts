import { describe, expect, it } from 'vitest';
import { changesBetween, keyQuestionRatings, summarise } from './cqc-location.ts';

const rated = (overall: string, safe = overall, status = 'Registered') => ({
  locationId: '1-101234567',
  providerId: '1-101234560',
  name: 'Oak Lodge',
  registrationStatus: status,
  currentRatings: {
    overall: {
      rating: overall,
      reportDate: '2025-06-01',
      keyQuestionRatings: [
        { name: 'Safe', rating: safe, reportDate: '2025-06-01' },
        { name: 'Caring', rating: overall, reportDate: '2025-06-01' },
      ],
    },
  },
});

describe('a CQC location record', () => {
  it('gives its register status and ratings', () => {
    expect(summarise(rated('Good'))).toEqual({ locationId: '1-101234567', providerId: '1-101234560', name: 'Oak Lodge', registrationStatus: 'Registered', overallRating: 'Good', ratingReportDate: '2025-06-01' });
    expect(keyQuestionRatings(rated('Good', 'Requires improvement')).map((k) => k.rating)).toEqual(['Requires improvement', 'Good']);
    expect(summarise({ locationId: '1-1' })).toMatchObject({ overallRating: null, registrationStatus: null });
  });

  it('says what changed: the overall rating, a key question, the registration', () => {
    expect(changesBetween(undefined, rated('Good'))).toEqual({});
    expect(changesBetween(rated('Good'), rated('Good'))).toEqual({});
    expect(changesBetween(rated('Good'), rated('Inadequate')).rating).toMatchObject({ previous: { overall: 'Good' }, current: { overall: 'Inadequate', keyQuestions: { Safe: 'Inadequate' } } });
    // The overall rating stays, one key question moves: still a rating change.
    expect(changesBetween(rated('Good'), rated('Good', 'Requires improvement')).rating?.current.keyQuestions.Safe).toBe('Requires improvement');
    const dereg = changesBetween(rated('Good'), { ...rated('Good', 'Good', 'Deregistered'), deregistrationDate: '2026-11-30' });
    expect(dereg).toEqual({ registration: { previous: 'Registered', current: 'Deregistered', deregistrationDate: '2026-11-30' } });
  });
});
