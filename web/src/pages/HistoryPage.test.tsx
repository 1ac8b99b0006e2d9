import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { useLocation } from 'react-router';
import { apiFilters, localDayStart, readFilters } from '../components/CallFilters';
import { AuthProvider } from '../lib/auth';
import { renderWithApp } from '../test/render';
import { HistoryPage } from './HistoryPage';

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
}

const ADMIN = { id: 'u1', email: 'ada@x.example', name: 'Ada Admin', role: 'admin' };
const RIA = { id: 'u2', email: 'ria@x.example', name: 'Ria Rep', role: 'rep' };
const STATS = { total_calls: 0, top_objections: [], insights_liked: 0, insights_shown: 0 };

/** The app's answers; records every /api/calls query it was asked. */
function server(role = 'admin') {
  const asked: URLSearchParams[] = [];
  const fetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    const url = new URL(String(input), 'http://x');
    switch (url.pathname) {
      case '/api/auth/me':
        return json({ ...ADMIN, role });
      case '/api/team':
        return json({ reps: [{ member: ADMIN, stats: STATS }, { member: RIA, stats: STATS }], team: STATS });
      case '/api/playbook':
        return json({ version: 0, author_name: null, updated_at: null, playbook: {
          objections: { price: { label: 'Price objection' }, timing: { label: 'Timing objection' } }, signals: {}, tone: {} } });
      case '/api/profile':
        return json({ source: 'user', profile: { competitors: [{ name: 'Aircall', battlecard: null }, { name: 'Dialpad', battlecard: null }] } });
      case '/api/calls': {
        asked.push(url.searchParams);
        const rep = url.searchParams.get('rep');
        const items = rep === 'u2' ? [{ id: 'c2', user_id: 'u2', title: 'Ria and Globex', start_time: '2026-11-12T10:00:00Z', end_time: null, duration_seconds: 60, summary: 's' }] : [];
        return json({ items, total: items.length });
      }
      default:
        return new Response('{}', { status: 404 });
    }
  });
  return { fetch, asked };
}

function Where() {
  return <output data-testid="where">{useLocation().search}</output>;
}

function renderAt(path: string) {
  return renderWithApp(
    <AuthProvider>
      <HistoryPage />
      <Where />
    </AuthProvider>,
    { path },
  );
}

describe('history filters', () => {
  it('turns local days into the API window, the last day included', () => {
    const f = readFilters(new URLSearchParams('rep=u2&from=2026-11-01&to=2026-11-30&competitor=Aircall&objection=price'));
    expect(apiFilters(f)).toEqual({
      rep: 'u2',
      since: new Date(2026, 10, 1).toISOString(),
      until: new Date(2026, 11, 1).toISOString(),
      competitor: 'Aircall',
      objection: 'price',
    });
    expect(localDayStart('30/11/2026')).toBeUndefined();
    expect(apiFilters(readFilters(new URLSearchParams('')))).toEqual({});
  });

  it('reads every filter from a shared link and asks the API for it', async () => {
    const { asked } = server();
    renderAt('/calls?rep=u2&from=2026-11-01&to=2026-11-30&competitor=Aircall&objection=price');
    expect(await screen.findByText('Ria and Globex')).toBeInTheDocument();
    const q = asked.at(-1) as URLSearchParams;
    expect(q.get('rep')).toBe('u2');
    expect(q.get('since')).toBe(new Date(2026, 10, 1).toISOString());
    expect(q.get('until')).toBe(new Date(2026, 11, 1).toISOString());
    expect(q.get('competitor')).toBe('Aircall');
    expect(q.get('objection')).toBe('price');
    // the controls show the link's filters, the rep by name
    await waitFor(() => expect(screen.getByLabelText('Rep')).toHaveDisplayValue('Ria Rep'));
    expect(screen.getByLabelText('From')).toHaveValue('2026-11-01');
    expect(screen.getByLabelText('To')).toHaveValue('2026-11-30');
    expect(screen.getByLabelText('Competitor')).toHaveValue('Aircall');
    await waitFor(() => expect(screen.getByLabelText('Objection')).toHaveDisplayValue('Price objection'));
    expect(screen.getByText(/1 call with these filters/)).toBeInTheDocument();
    // whose call it is, for a manager reading the team's history
    expect(screen.getByRole('link', { name: /Ria and Globex/ })).toHaveTextContent('Ria Rep');
  });

  it('puts each change in the URL, keeps the search words, and clears in one click', async () => {
    const { asked } = server();
    renderAt('/calls?q=pricing');
    await screen.findByText(/No calls match “pricing”/);
    await waitFor(() => expect(screen.getByRole('option', { name: 'Timing objection' })).toBeInTheDocument());
    await userEvent.selectOptions(screen.getByLabelText('Objection'), 'timing');
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent('?q=pricing&objection=timing'));
    await waitFor(() => expect(asked.at(-1)?.get('objection')).toBe('timing'));
    expect(asked.at(-1)?.get('q')).toBe('pricing');

    // a typed competitor reaches the URL on Enter, not on every key
    const before = asked.length;
    await userEvent.type(screen.getByLabelText('Competitor'), 'Ringo');
    expect(screen.getByTestId('where')).not.toHaveTextContent('competitor');
    expect(asked.length).toBe(before);
    await userEvent.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent('competitor=Ringo'));

    await userEvent.type(screen.getByLabelText('From'), '2026-11-20');
    await userEvent.type(screen.getByLabelText('To'), '2026-11-10');
    expect(await screen.findByText(/“From” is after “To”/)).toBeInTheDocument();

    expect(screen.getByText(/No calls match “pricing” with these filters/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Clear filters' }));
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent(/^\?q=pricing$/));
    expect(screen.getByLabelText('Competitor')).toHaveValue('');
  });

  it('offers a rep no rep filter: they see only their own calls', async () => {
    server('rep');
    renderAt('/calls');
    await screen.findByText('No calls yet');
    expect(screen.getByLabelText('Objection')).toBeInTheDocument();
    expect(screen.queryByLabelText('Rep')).not.toBeInTheDocument();
  });
});
