import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { termProblem, VocabularyEditor, type Vocabulary } from './VocabularyEditor';
import { renderWithApp } from '../test/render';

const AUTO = [
  { text: 'Relay', source: 'company' },
  { text: 'Aircall', source: 'competitor' },
  { text: 'Salesforce', source: 'product' },
  { text: 'SOC 2', source: 'knowledge' },
] as const;

function vocabulary(userTerms: string[]): Vocabulary {
  return {
    terms: [...userTerms.map((text) => ({ text, source: 'user' as const })), ...AUTO],
    user_terms: userTerms,
    max_terms: 100,
    max_user_terms: 50,
  };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/** A fake /api/vocabulary that keeps the user's terms, like the server. */
function server(initial: string[]) {
  let stored = [...initial];
  const fetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    expect(String(input)).toBe('/api/vocabulary');
    if (init?.method === 'PUT') {
      const body = JSON.parse(String(init.body)) as { user_terms: string[] };
      if (body.user_terms.some((t) => t.includes('\u0007'))) {
        return json({ detail: 'a term cannot contain control characters', code: 'bad_term' }, 400);
      }
      stored = body.user_terms;
    }
    return json(vocabulary(stored));
  });
  return { fetch, stored: () => stored };
}

describe('<VocabularyEditor>', () => {
  it('lists the automatic terms with where they come from, and the user’s own', async () => {
    server(['Nextiva']);
    renderWithApp(<VocabularyEditor />);
    const auto = await screen.findByRole('list', { name: 'Found automatically' });
    expect(within(auto).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'Relay your company',
      'Aircall competitor',
      'Salesforce product',
      'SOC 2 knowledge base',
    ]);
    const own = screen.getByRole('list', { name: 'Your terms' });
    expect(within(own).getByText('Nextiva')).toBeInTheDocument();
    expect(screen.getByText('1/50 of your own')).toBeInTheDocument();
  });

  it('adds and removes the user’s terms with PUT /api/vocabulary', async () => {
    const user = userEvent.setup();
    const api = server(['Nextiva']);
    renderWithApp(<VocabularyEditor />);
    await user.type(await screen.findByLabelText('Add a term'), '  Talk   desk ');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    await waitFor(() => expect(api.stored()).toEqual(['Nextiva', 'Talk desk']));
    const put = api.fetch.mock.calls.find(([, init]) => init?.method === 'PUT');
    expect(JSON.parse(String(put?.[1]?.body))).toEqual({ user_terms: ['Nextiva', 'Talk desk'] });
    expect(await screen.findByRole('status')).toHaveTextContent('Added “Talk desk”.');
    expect(screen.getByLabelText('Add a term')).toHaveValue('');

    await user.click(screen.getByRole('button', { name: 'Remove Nextiva' }));
    await waitFor(() => expect(api.stored()).toEqual(['Talk desk']));
    const own = screen.getByRole('list', { name: 'Your terms' });
    expect(within(own).queryByText('Nextiva')).not.toBeInTheDocument();
  });

  it('refuses a repeated term without asking the server, and shows the server’s errors', async () => {
    const user = userEvent.setup();
    const api = server(['Nextiva']);
    renderWithApp(<VocabularyEditor />);
    await user.type(await screen.findByLabelText('Add a term'), 'nextiva');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    expect(screen.getByRole('alert')).toHaveTextContent('“nextiva” is already in your terms.');
    expect(api.fetch.mock.calls.filter(([, init]) => init?.method === 'PUT')).toHaveLength(0);

    await user.clear(screen.getByLabelText('Add a term'));
    await user.type(screen.getByLabelText('Add a term'), 'bell\u0007');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('a term cannot contain control characters');
    expect(api.stored()).toEqual(['Nextiva']);
  });
});

describe('termProblem', () => {
  it('checks blanks, length, repeats and the limit', () => {
    expect(termProblem('Talkdesk', [], 50)).toBeNull();
    expect(termProblem('   ', [], 50)).toMatch(/Type a name/);
    expect(termProblem('x'.repeat(65), [], 50)).toMatch(/at most 64/);
    expect(termProblem('TALKDESK', ['Talkdesk'], 50)).toMatch(/already/);
    expect(termProblem('Five9', ['A', 'B'], 2)).toMatch(/up to 2/);
  });
});
