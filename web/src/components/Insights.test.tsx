import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { newestFirst } from '../realtime/insights';
import { InsightPanel, type InsightView } from './Insights';

const insight = (p: Partial<InsightView> & { id: string; agent: string }): InsightView => ({
  content: 'tip',
  category: 'Objection Handling',
  feedback: 'none',
  ...p,
});

const INSIGHTS: InsightView[] = [
  insight({ id: 'q1', agent: 'qa', category: 'Knowledge Base', content: 'Yes: native Salesforce integration, set up in a day.', source: 'integrations.md' }),
  insight({ id: 'c1', agent: 'coach', content: 'Price objection: anchor on cost per resolved ticket.', context_snippet: 'your price seems high' }),
  insight({ id: 's1', agent: 'search', category: 'Competitor', entity: 'Aircall', content: 'Aircall lacks native workforce management.', source: 'https://example.com/aircall' }),
  insight({ id: 'c2', agent: 'coach', category: 'Closing', content: 'Buying signal: propose a pilot.' }),
];

describe('newestFirst', () => {
  it('shows the latest tip on top, whatever its agent', () => {
    expect(newestFirst(INSIGHTS).map((i) => i.id)).toEqual(['c2', 's1', 'c1', 'q1']);
  });
});

describe('<InsightPanel>', () => {
  it('lists tips newest first, the agent as a label, the newest highlighted', () => {
    render(<InsightPanel insights={INSIGHTS} onFeedback={() => undefined} highlightNewest />);
    const cards = screen.getAllByTestId('insight');
    expect(cards.map((c) => c.dataset.insightId)).toEqual(['c2', 's1', 'c1', 'q1']);
    expect(cards.map((c) => within(c).getByTestId('insight-agent').textContent?.trim())).toEqual(['Sales coach', 'Search', 'Sales coach', 'Q&A']);
    expect(cards[0]).toHaveAttribute('data-newest', 'true');
    expect(within(cards[0] as HTMLElement).getByText('Newest')).toBeInTheDocument();
    expect(within(cards[0] as HTMLElement).getByRole('button', { name: 'Helpful' })).toHaveAttribute('aria-keyshortcuts', 'L');
    expect(cards.slice(1).every((c) => !c.dataset.newest)).toBe(true);
    expect(within(cards[2] as HTMLElement).getByText('“your price seems high”')).toBeInTheDocument();
    expect(within(cards[3] as HTMLElement).getByText('Source: integrations.md')).toBeInTheDocument();
    expect(within(cards[1] as HTMLElement).getByRole('link', { name: 'https://example.com/aircall' })).toHaveAttribute('href', 'https://example.com/aircall');
    expect(within(cards[1] as HTMLElement).getByText('Aircall')).toBeInTheDocument();
  });

  it('highlights nothing unless asked (a finished call)', () => {
    render(<InsightPanel insights={INSIGHTS} onFeedback={() => undefined} />);
    expect(screen.queryByText('Newest')).not.toBeInTheDocument();
  });

  it('calls back with liked / disliked, and with none when the active choice is pressed again', async () => {
    const user = userEvent.setup();
    const onFeedback = vi.fn();
    const { rerender } = render(<InsightPanel insights={INSIGHTS} onFeedback={onFeedback} />);
    const qa = () => screen.getAllByTestId('insight').find((c) => c.dataset.insightId === 'q1') as HTMLElement;
    await user.click(within(qa()).getByRole('button', { name: 'Helpful' }));
    expect(onFeedback).toHaveBeenLastCalledWith('q1', 'liked');
    await user.click(within(qa()).getByRole('button', { name: 'Not helpful' }));
    expect(onFeedback).toHaveBeenLastCalledWith('q1', 'disliked');

    rerender(<InsightPanel insights={INSIGHTS.map((i) => (i.id === 'q1' ? { ...i, feedback: 'liked' } : i))} onFeedback={onFeedback} />);
    const like = within(qa()).getByRole('button', { name: 'Helpful' });
    expect(like).toHaveAttribute('aria-pressed', 'true');
    await user.click(like);
    expect(onFeedback).toHaveBeenLastCalledWith('q1', 'none');
  });

  it('is keyboard-operable', async () => {
    const user = userEvent.setup();
    const onFeedback = vi.fn();
    render(<InsightPanel insights={[INSIGHTS[1] as InsightView]} onFeedback={onFeedback} />);
    await user.tab();
    expect(screen.getByRole('button', { name: 'Helpful' })).toHaveFocus();
    await user.keyboard('{Enter}');
    expect(onFeedback).toHaveBeenCalledWith('c1', 'liked');
  });

  it('shows an empty state', () => {
    render(<InsightPanel insights={[]} onFeedback={() => undefined} emptyText="Nothing yet" />);
    expect(screen.getByText('Nothing yet')).toBeInTheDocument();
  });
});
