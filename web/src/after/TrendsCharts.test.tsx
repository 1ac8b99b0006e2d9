import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { Trends } from '../api/after';
import { AuthProvider } from '../lib/auth';
import { renderWithApp } from '../test/render';
import TrendsCharts, { repRows } from './TrendsCharts';

const BUCKETS = ['2026-11-16T00:00:00Z', '2026-11-23T00:00:00Z'].map((start) => ({
  start, calls: 0, minutes: 0, tips_shown: 0, tips_liked: 0, objections: {}, competitors: {},
}));

function trends(scope: string): Trends {
  const team = scope === 'team';
  return {
    range: 'month',
    bucket: 'week',
    since: BUCKETS[0]!.start,
    scope,
    buckets: BUCKETS.map((b, i) => ({ ...b, calls: team ? 3 * i : i })),
    calls: [],
    reps: team
      ? [
          { user_id: 'ria', name: 'Ria', calls: 2, minutes: 20, rep_talk_ratio: 0.55, objections: 1, tips_shown: 4, tips_liked: 3, calls_per_bucket: [0, 2] },
          { user_id: 'rob', name: 'Rob', calls: 1, minutes: 5, rep_talk_ratio: null, objections: 0, tips_shown: 0, tips_liked: 0, calls_per_bucket: [0, 1] },
        ]
      : [],
  };
}

function serve(role: 'manager' | 'rep') {
  return vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    const url = new URL(String(input), 'http://x');
    const body = url.pathname === '/api/trends' ? trends(url.searchParams.get('rep') ?? 'me') : { id: 'max', email: 'max@x.test', name: 'Max', role };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
  });
}

describe('TrendsCharts by role', () => {
  it("lets a manager switch to the team's trends, one row and one line per rep", async () => {
    const fetch = serve('manager');
    renderWithApp(
      <AuthProvider>
        <TrendsCharts />
      </AuthProvider>,
    );
    const whose = await screen.findByRole('combobox', { name: 'Whose' });
    expect(await within(whose).findByRole('option', { name: 'Ria' })).toBeInTheDocument();
    expect(screen.queryByTestId('rep-trends')).not.toBeInTheDocument();
    await userEvent.selectOptions(whose, 'team');
    const table = await screen.findByTestId('rep-trends');
    expect(within(table).getAllByRole('row').map((r) => r.textContent)).toEqual([
      'RepCallsMinutesTalk ratioObjectionsTips liked',
      'Ria22055%13 / 4',
      'Rob15—00 / 0',
    ]);
    expect(screen.getByTestId('chart-reps')).toHaveAttribute('data-empty', 'false');
    await userEvent.selectOptions(whose, 'rob');
    expect(fetch.mock.calls.map((c) => String(c[0]))).toContain('/api/trends?range=month&rep=rob');
  });

  it('shows a rep only their own trends, with no picker', async () => {
    const fetch = serve('rep');
    renderWithApp(
      <AuthProvider>
        <TrendsCharts />
      </AuthProvider>,
    );
    expect(await screen.findByTestId('chart-calls')).toHaveAttribute('data-empty', 'false');
    expect(screen.queryByRole('combobox', { name: 'Whose' })).not.toBeInTheDocument();
    expect(fetch.mock.calls.map((c) => String(c[0])).filter((u) => u.startsWith('/api/trends'))).toEqual(['/api/trends?range=month']);
  });

  it('aligns the per-rep chart rows with the buckets', () => {
    expect(repRows(trends('team'), (b) => b.start.slice(5, 10))).toEqual([
      { label: '11-16', ria: 0, rob: 0 },
      { label: '11-23', ria: 2, rob: 1 },
    ]);
  });
});
