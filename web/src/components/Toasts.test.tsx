import { fireEvent, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { FeedbackStatus } from '../api/types';
import { useTipShortcuts } from '../lib/insightsView';
import type { LiveInsight } from '../realtime/insights';
import { InsightToasts } from './Toasts';

const tip = (id: string): LiveInsight => ({ id, content: `tip ${id}`, category: 'Closing', agent: 'coach', kind: 'tip', context_snippet: '', created_at: '2026-01-01T00:00:00Z', source: null, entity: null, confidence: null, feedback: 'none' });

describe('<InsightToasts>', () => {
  it('pops up only tips that come while the Insights panel is out of view', () => {
    const props = { onFeedback: () => undefined };
    const { rerender } = render(<InsightToasts insights={[tip('a')]} active={false} {...props} />);
    expect(screen.queryAllByTestId('insight-toast')).toHaveLength(0); // the panel shows it
    rerender(<InsightToasts insights={[tip('a')]} active {...props} />);
    expect(screen.queryAllByTestId('insight-toast')).toHaveLength(0); // not later either
    rerender(<InsightToasts insights={[tip('a'), tip('b')]} active {...props} />);
    expect(screen.getAllByTestId('insight-toast').map((t) => t.textContent)).toEqual([expect.stringContaining('tip b')]);
    rerender(<InsightToasts insights={[tip('a'), tip('b')]} active={false} {...props} />);
    expect(screen.queryAllByTestId('insight-toast')).toHaveLength(0); // the panel came into view
  });
});

function Shortcuts({ newest, rate }: { newest: LiveInsight | undefined; rate: (id: string, s: FeedbackStatus) => void }) {
  useTipShortcuts(newest, rate, true);
  return <input aria-label="notes" />;
}

describe('useTipShortcuts', () => {
  it('L likes and D dislikes the newest tip; pressed again it clears; never while typing', async () => {
    const rate = vi.fn();
    const { rerender } = render(<Shortcuts newest={tip('n')} rate={rate} />);
    fireEvent.keyDown(document.body, { key: 'l' });
    expect(rate).toHaveBeenLastCalledWith('n', 'liked');
    rerender(<Shortcuts newest={{ ...tip('n'), feedback: 'liked' }} rate={rate} />);
    fireEvent.keyDown(document.body, { key: 'L' });
    expect(rate).toHaveBeenLastCalledWith('n', 'none');
    fireEvent.keyDown(document.body, { key: 'd' });
    expect(rate).toHaveBeenLastCalledWith('n', 'disliked');
    rate.mockClear();
    await userEvent.type(screen.getByRole('textbox', { name: 'notes' }), 'ld');
    fireEvent.keyDown(document.body, { key: 'l', ctrlKey: true });
    expect(rate).not.toHaveBeenCalled();
  });
});
