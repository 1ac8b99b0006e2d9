import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { groupByAgent } from '../realtime/insights';
import { InsightPanel, type InsightView } from './Insights';

const insight = (p: Partial<InsightView> & { id: string; agent: string }): InsightView => ({
  content: 'tip',
  category: 'Objection Handling',
  feedback: 'none',
  ...p,
});

const INSIGHTS: InsightView[] = [
  insight({ id: 'q1', agent: 'qa', category: 'Knowledge Base', content: 'Yes: native Salesforce integration, set up in a day.', source: 'integrations.md' }),
  insight({ id: 'c1', agent: 'coach', content: 'Price objection: anchor on cost per resolved ticket.', contextSnippet: 'your price seems high' }),
  insight({ id: 's1', agent: 'search', category: 'Competitor', entity: 'Aircall', content: 'Aircall lacks native workforce management.', source: 'https://example.com/aircall' }),
  insight({ id: 'c2', agent: 'coach', category: 'Closing', content: 'Buying signal: propose a pilot.' }),
];

describe('groupByAgent', () => {
  it('orders coach, search, qa and puts the newest first inside a group', () => {
    const groups = groupByAgent(INSIGHTS);
    expect(groups.map((g) => g.agent)).toEqual(['coach', 'search', 'qa']);
    expect(groups[0]?.items.map((i) => i.id)).toEqual(['c2', 'c1']);
  });

  it('keeps unknown agents, after the known ones', () => {
    expect(groupByAgent([insight({ id: 'x', agent: 'zeta' }), insight({ id: 'y', agent: 'system' })]).map((g) => g.label)).toEqual(['System', 'Zeta']);
  });
});

describe('<InsightPanel>', () => {
  it('renders one labelled section per agent with its insights and sources', () => {
    render(<InsightPanel insights={INSIGHTS} onFeedback={() => undefined} />);
    const coach = screen.getByRole('region', { name: 'Sales coach insights' });
    expect(within(coach).getAllByTestId('insight')).toHaveLength(2);
    expect(within(coach).getByText('“your price seems high”')).toBeInTheDocument();
    const qa = screen.getByRole('region', { name: 'Q&A insights' });
    expect(within(qa).getByText('Source: integrations.md')).toBeInTheDocument();
    const search = screen.getByRole('region', { name: 'Search insights' });
    expect(within(search).getByRole('link', { name: 'https://example.com/aircall' })).toHaveAttribute('href', 'https://example.com/aircall');
    expect(within(search).getByText('Aircall')).toBeInTheDocument();
  });

  it('calls back with liked / disliked, and with none when the active choice is pressed again', async () => {
    const user = userEvent.setup();
    const onFeedback = vi.fn();
    const { rerender } = render(<InsightPanel insights={INSIGHTS} onFeedback={onFeedback} />);
    const qa = screen.getByRole('region', { name: 'Q&A insights' });
    await user.click(within(qa).getByRole('button', { name: 'Helpful' }));
    expect(onFeedback).toHaveBeenLastCalledWith('q1', 'liked');
    await user.click(within(qa).getByRole('button', { name: 'Not helpful' }));
    expect(onFeedback).toHaveBeenLastCalledWith('q1', 'disliked');

    rerender(<InsightPanel insights={INSIGHTS.map((i) => (i.id === 'q1' ? { ...i, feedback: 'liked' } : i))} onFeedback={onFeedback} />);
    const like = within(screen.getByRole('region', { name: 'Q&A insights' })).getByRole('button', { name: 'Helpful' });
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
