import { QueryClient } from '@tanstack/react-query';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { CallSummary } from '../api/after';
import { renderWithApp } from '../test/render';
import { SummaryEditor } from './SummaryEditor';

function summary(over: Partial<CallSummary> = {}): CallSummary {
  return {
    call_id: 'c1', version: 0, text: 'Generated summary.', action_items: ['Rep: send pricing'], edited: false,
    edited_by_name: null, edited_at: null, generated_text: 'Generated summary.', generated_action_items: ['Rep: send pricing'],
    ...over,
  };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('SummaryEditor', () => {
  it('edits the text and action items with the version it started from, then shows who edited', async () => {
    const invalidated = vi.spyOn(QueryClient.prototype, 'invalidateQueries');
    const fetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (_input, init) => {
      if (init?.method === 'PUT') {
        const b = JSON.parse(String(init.body));
        return json(summary({ version: 1, text: b.text, action_items: b.action_items, edited: true, edited_by_name: 'Ria', edited_at: '2026-12-02T10:00:00Z' }));
      }
      return json(summary());
    });
    renderWithApp(<SummaryEditor callId="c1" ended />);
    await userEvent.click(await screen.findByRole('button', { name: /Edit/ }));
    const text = screen.getByRole('textbox', { name: 'Summary' });
    await userEvent.clear(text);
    await userEvent.type(text, 'Agreed to a pilot.');
    await userEvent.type(screen.getByRole('textbox', { name: /Action items/ }), '{enter}Customer: invite IT{enter}');
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));
    const put = fetch.mock.calls.find(([, init]) => init?.method === 'PUT');
    expect(JSON.parse(String(put?.[1]?.body))).toEqual({
      text: 'Agreed to a pilot.', action_items: ['Rep: send pricing', 'Customer: invite IT'], version: 0,
    });
    expect(await screen.findByTestId('call-detail-summary')).toHaveTextContent('Agreed to a pilot.');
    expect(screen.getByTestId('summary-edited')).toHaveTextContent('Ria');
    expect(screen.getByRole('button', { name: /Revert to generated/ })).toBeInTheDocument();
    // the history list and the CRM status are refetched (the edit is listed, the note updated)
    const refreshed = invalidated.mock.calls.map(([filters]) => JSON.stringify(filters?.queryKey));
    expect(refreshed).toEqual(expect.arrayContaining(['["calls"]', '["call","c1","crm"]']));
  });

  it('says when someone else saved first and reloads their version', async () => {
    let theirs = false;
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (_input, init) => {
      if (init?.method === 'PUT') {
        theirs = true;
        return json({ detail: 'Max changed this summary since you opened it: reload to see their version', code: 'summary_changed',
          current: summary({ version: 1, text: 'By Max.', edited: true }) }, 409);
      }
      return json(theirs ? summary({ version: 1, text: 'By Max.', edited: true, edited_by_name: 'Max' }) : summary());
    });
    renderWithApp(<SummaryEditor callId="c1" ended />);
    await userEvent.click(await screen.findByRole('button', { name: /Edit/ }));
    await userEvent.type(screen.getByRole('textbox', { name: 'Summary' }), ' Mine.');
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Max changed this summary');
    await userEvent.click(screen.getByRole('button', { name: /Reload/ }));
    expect(await screen.findByTestId('call-detail-summary')).toHaveTextContent('By Max.');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('reverts to the generated summary and offers no edit while the call runs', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (_input, init) =>
      json(init?.method === 'DELETE' ? summary({ version: 3 }) : summary({ version: 2, text: 'Edited.', edited: true, edited_by_name: 'Ria' })),
    );
    const { unmount } = renderWithApp(<SummaryEditor callId="c1" ended />);
    await userEvent.click(await screen.findByRole('button', { name: /Revert to generated/ }));
    expect(await screen.findByText('Generated summary.')).toBeInTheDocument();
    expect(String(fetch.mock.calls.find(([, init]) => init?.method === 'DELETE')?.[0])).toContain('version=2');
    unmount();
    renderWithApp(<SummaryEditor callId="c1" ended={false} />);
    await screen.findByTestId('call-detail-summary');
    expect(screen.queryByRole('button', { name: /Edit/ })).not.toBeInTheDocument();
  });
});
