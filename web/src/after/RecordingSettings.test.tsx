import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { RecordingSettings } from '../api/after';
import { renderWithApp } from '../test/render';
import { RecordingSettingsCard } from './RecordingSettings';

function choice(over: Partial<RecordingSettings> = {}): RecordingSettings {
  return { enabled: false, retention_days: null, codec: 'opus', can_manage: true, updated_at: null, ...over };
}

describe('RecordingSettingsCard', () => {
  it('lets an admin turn recording on only with the consent confirmation, with a retention period', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (_input, init) => {
      const body = init?.method === 'PUT' ? { ...choice(JSON.parse(String(init.body))), updated_at: '2026-12-02T10:00:00Z' } : choice();
      return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
    });
    renderWithApp(<RecordingSettingsCard />);
    await userEvent.click(await screen.findByRole('checkbox', { name: /Record calls/ }));
    const save = screen.getByRole('button', { name: 'Save' });
    expect(save).toBeDisabled(); // consent not confirmed yet
    await userEvent.click(screen.getByRole('checkbox', { name: /told that it is recorded/ }));
    await userEvent.type(screen.getByRole('spinbutton', { name: 'Retention in days' }), '0');
    expect(screen.getByText(/whole number of days/)).toBeInTheDocument();
    await userEvent.clear(screen.getByRole('spinbutton', { name: 'Retention in days' }));
    await userEvent.type(screen.getByRole('spinbutton', { name: 'Retention in days' }), '90');
    await userEvent.click(save);
    const put = fetch.mock.calls.find(([, init]) => init?.method === 'PUT');
    expect(JSON.parse(String(put?.[1]?.body))).toEqual({ enabled: true, retention_days: 90, consent_confirmed: true });
  });

  it('tells other members what the workspace chose and who can change it', async () => {
    vi.spyOn(globalThis, 'fetch').mockImplementation(
      async () => new Response(JSON.stringify(choice({ enabled: true, retention_days: 30, can_manage: false })), { status: 200, headers: { 'Content-Type': 'application/json' } }),
    );
    renderWithApp(<RecordingSettingsCard />);
    expect(await screen.findByTestId('recording-choice')).toHaveTextContent('Calls are recorded and kept 30 days. Only a workspace admin can change it.');
    expect(screen.queryByRole('checkbox')).not.toBeInTheDocument();
  });
});
