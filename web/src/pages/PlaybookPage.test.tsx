import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { checkPlaybook, problemsByRule, ruleKey } from '../lib/playbook';
import { AuthProvider } from '../lib/auth';
import { renderWithApp } from '../test/render';
import { PlaybookPage } from './PlaybookPage';
import type { PlaybookContent } from '../api/types';

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

const TEMPLATE = {
  objections: { price: { label: 'Price objection', category: 'Objection Handling', priority: 0.8, patterns: ['too expensive'], examples: [], tips: ['Anchor on value.'] } },
  signals: {},
  tone: {},
  nudges: {
    talk_ratio: { label: 'You are talking a lot', category: 'Talk Ratio', priority: 0.55, max_ratio: 0.65, min_seconds: 60, tips: ['You talked {ratio:.0%}.'] },
    monologue: { label: 'Long monologue', category: 'Talk Ratio', priority: 0.5, max_seconds: 90, tips: ['{seconds:.0f} seconds straight.'] },
    questions: { label: 'Ask more questions', category: 'Discovery', priority: 0.45, after_seconds: 240, min_questions: 3, tips: ['Only {questions} questions.'] },
  },
} as unknown as PlaybookContent;

/** A playbook server: PUT answers from `answers` in turn (a status and a body), then 200. */
function server(answers: { status: number; body: unknown }[] = []) {
  let version = 0;
  let playbook = structuredClone(TEMPLATE);
  const saved: { playbook: PlaybookContent; base_version: number }[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = new URL(String(input), 'http://x');
    if (url.pathname === '/api/auth/me') return json({ id: 'u1', email: 'a@x.example', name: 'Ada', role: 'manager' });
    if (url.pathname === '/api/playbook/versions') return json([]);
    if (url.pathname === '/api/playbook' && init?.method === 'PUT') {
      const body = JSON.parse(String(init.body)) as { playbook: PlaybookContent; base_version: number };
      saved.push(body);
      const answer = answers.shift();
      if (answer?.status === 409) {
        version += 1; // someone else's save, which the page is told about on reload
        return json(answer.body, 409);
      }
      if (answer) return json(answer.body, answer.status);
      version += 1;
      playbook = body.playbook;
      return json({ version, author_name: 'Ada', created_at: '2026-12-02T10:00:00Z', changes: '', restored_from: null });
    }
    if (url.pathname === '/api/playbook') return json({ version, playbook, author_name: version ? 'Olga' : null, updated_at: version ? '2026-12-02T10:00:00Z' : null });
    return json({}, 404);
  });
  return saved;
}

function renderPage() {
  return renderWithApp(
    <AuthProvider>
      <PlaybookPage />
    </AuthProvider>,
  );
}

beforeAll(() => {
  // jsdom lays nothing out; the page scrolls a new or faulty rule into view
  Element.prototype.scrollIntoView ??= () => undefined;
});

describe('playbook checks', () => {
  it('finds what the server would refuse or never use', () => {
    const draft = structuredClone(TEMPLATE);
    draft.objections['Bad key'] = { label: '', category: 'X', priority: 2, patterns: [], examples: [], tips: [] };
    (draft.nudges as Record<string, Record<string, unknown>>).questions!.min_questions = 2.5;
    (draft.nudges as Record<string, Record<string, unknown>>).monologue!.tips = ['{secs} straight'];
    const found = checkPlaybook(draft);
    expect(Object.keys(found).sort()).toEqual(['nudges.monologue', 'nudges.questions', 'objections.Bad key']);
    expect(found['objections.Bad key']).toHaveLength(5);
    expect(found['nudges.monologue']?.[0]).toContain('{secs}');
    expect(checkPlaybook(TEMPLATE)).toEqual({});
    expect(ruleKey('  Procurement delay!')).toBe('procurement_delay');
    expect(problemsByRule(['objections.price.patterns[0]: bad regular expression', 'yaml: nope'])).toEqual({
      'objections.price': ['objections.price.patterns[0]: bad regular expression'],
      playbook: ['yaml: nope'],
    });
  });
});

describe('PlaybookPage', () => {
  it('adds a rule, checks it before saving, shows the server problem on it, then saves', async () => {
    const saved = server([{ status: 400, body: { detail: 'the playbook was not saved: objections.late_budget.patterns[0]: bad regular expression (missing ))', code: 'invalid_playbook', problems: ['objections.late_budget.patterns[0]: bad regular expression (missing ))'] } }]);
    renderPage();
    const add = await screen.findByRole('form', { name: 'Add to Objections' });
    await userEvent.type(within(add).getByLabelText('New objections rule name'), 'Late budget');
    await userEvent.click(within(add).getByRole('button', { name: 'Add rule' }));
    const rule = screen.getByTestId('rule-objections.late_budget');
    expect(screen.getByText('Unsaved changes')).toBeInTheDocument();

    // checked here first: nothing is sent
    await userEvent.click(screen.getByRole('button', { name: 'Save playbook' }));
    expect(screen.getByRole('alert')).toHaveTextContent('fix the 2 problems');
    expect(within(rule).getByRole('list', { name: 'objections.late_budget problems' })).toHaveTextContent('Write at least one tip');
    expect(saved).toHaveLength(0);

    // a second line typed with Enter stays while it is written
    const phrases = within(rule).getByLabelText('objections.late_budget Trigger phrases');
    await userEvent.type(phrases, '(budget{Enter}');
    expect(phrases).toHaveValue('(budget\n');
    await userEvent.type(within(rule).getByLabelText('objections.late_budget Tips'), 'Ask when the budget opens.');
    await userEvent.click(screen.getByRole('button', { name: 'Save playbook' }));
    // the server's own finding, on the rule it names
    expect(await within(rule).findByText(/patterns\[0\]: bad regular expression/)).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent('the playbook was not saved');

    fireEvent.change(phrases, { target: { value: 'budget (is|was) late' } });
    await userEvent.click(screen.getByRole('button', { name: 'Save playbook' }));
    expect(await screen.findByText(/Saved version 1/)).toBeInTheDocument();
    expect(saved.at(-1)?.playbook.objections.late_budget).toMatchObject({ label: 'Late budget', patterns: ['budget (is|was) late'], tips: ['Ask when the budget opens.'] });
  }, 20_000);

  it('removes a rule and edits a nudge', async () => {
    const saved = server();
    vi.spyOn(window, 'confirm').mockReturnValue(true);
    renderPage();
    await userEvent.click(await screen.findByRole('button', { name: 'Remove objections.price' }));
    expect(screen.queryByTestId('rule-objections.price')).not.toBeInTheDocument();
    expect(screen.getAllByText('No rules here yet.')).toHaveLength(3);
    const ratio = screen.getByLabelText('nudges.talk_ratio max_ratio');
    await userEvent.clear(ratio);
    await userEvent.type(ratio, '0.5');
    await userEvent.click(screen.getByRole('button', { name: 'Save playbook' }));
    expect(await screen.findByText(/Saved version 1/)).toBeInTheDocument();
    const body = saved[0]?.playbook as unknown as { objections: object; nudges: { talk_ratio: { max_ratio: number } } };
    expect(body.objections).toEqual({});
    expect(body.nudges.talk_ratio.max_ratio).toBe(0.5);
  });

  it('keeps the draft on a conflict and saves it over the newer version when asked', async () => {
    const saved = server([{ status: 409, body: { detail: 'the playbook changed meanwhile (now version 1): reload and edit again', code: 'conflict' } }]);
    renderPage();
    const tips = await screen.findByLabelText('objections.price Tips');
    fireEvent.change(tips, { target: { value: 'Mine.' } });
    await userEvent.click(screen.getByRole('button', { name: 'Save playbook' }));
    expect(await screen.findByText(/Your changes are still here/)).toBeInTheDocument();
    const newer = await screen.findByTestId('newer-version');
    expect(newer).toHaveTextContent('Olga saved version 1');
    expect(screen.getByLabelText('objections.price Tips')).toHaveValue('Mine.');
    await userEvent.click(within(newer).getByRole('button', { name: 'Save mine as the next version' }));
    expect(await screen.findByText(/Saved version 2/)).toBeInTheDocument();
    expect(saved.map((s) => s.base_version)).toEqual([0, 1]);
    await waitFor(() => expect(screen.queryByTestId('newer-version')).not.toBeInTheDocument());
  });
});
