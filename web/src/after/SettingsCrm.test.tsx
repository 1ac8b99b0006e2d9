import { screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { CrmStatus } from '../api/after';
import { AuthProvider } from '../lib/auth';
import { SettingsPage } from '../pages/SettingsPage';
import { renderWithApp } from '../test/render';

function crms(canManage: boolean): CrmStatus[] {
  return [
    { provider: 'hubspot', label: 'HubSpot', configured: true, status: 'connected', account: 'acme.hubspot.test', auto_sync: true, can_manage: canManage },
    { provider: 'salesforce', label: 'Salesforce', configured: true, status: 'not_connected', account: null, auto_sync: true, can_manage: canManage },
  ];
}

function serve(body: CrmStatus[]) {
  const recording = { enabled: false, retention_days: null, codec: 'opus', can_manage: body[0]?.can_manage ?? false, updated_at: null };
  vi.spyOn(globalThis, 'fetch').mockImplementation(
    async (input) => {
      const url = String(input);
      const me = { id: 'u1', email: 'u1@x.test', name: 'U1', role: body[0]?.can_manage ? 'admin' : 'rep' };
      const answer = url === '/api/crm' ? body : url === '/api/auth/me' ? me : url.startsWith('/api/recordings') ? recording : [];
      return new Response(JSON.stringify(answer), { status: 200, headers: { 'Content-Type': 'application/json' } });
    },
  );
}

describe('Settings: CRM connections by role', () => {
  it('offers an admin connect, disconnect and auto-sync', async () => {
    serve(crms(true));
    renderWithApp(
      <AuthProvider>
        <SettingsPage />
      </AuthProvider>,
      { path: '/settings' },
    );
    expect(await screen.findByRole('button', { name: /Disconnect/ })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /Connect Salesforce/ })).toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: /automatically/ })).toBeChecked();
    expect(screen.queryByText(/only a workspace admin/)).not.toBeInTheDocument();
  });

  it('shows anyone else the status and who can change it, with no buttons', async () => {
    serve(crms(false));
    renderWithApp(
      <AuthProvider>
        <SettingsPage />
      </AuthProvider>,
      { path: '/settings' },
    );
    expect(await screen.findByText('only a workspace admin can change it')).toBeInTheDocument();
    expect(screen.getByText('only a workspace admin can connect it')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Disconnect|Connect/ })).not.toBeInTheDocument();
    expect(screen.queryByRole('checkbox')).not.toBeInTheDocument();
    expect(screen.getByText('Every finished call is written to HubSpot automatically.')).toBeInTheDocument();
  });
});
