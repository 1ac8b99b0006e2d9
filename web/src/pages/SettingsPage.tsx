/**
 * Settings: the workspace's CRM connections (OAuth connect, reconnect, disconnect, auto-sync),
 * and the signed-in user's own account: change the password, sign out everywhere, delete the
 * account (both re-ask the password where the server does).
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { KeyRound, Link2, LogOut, Trash2, Unlink } from 'lucide-react';
import { useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { RecordingSettingsCard } from '../after/RecordingSettings';
import { afterApi, type CrmStatus } from '../api/after';
import { request } from '../api/client';
import { setToken } from '../api/token';
import type { AuthResponse } from '../api/types';
import { Badge, Button, Card, ErrorState, PageHeader, Spinner } from '../components/ui';
import { useAuth } from '../lib/auth';

const field = 'mt-1 w-full max-w-sm rounded-md border border-slate-300 px-3 py-2 text-sm';

const accountApi = {
  changePassword: (current_password: string, new_password: string) =>
    request<AuthResponse>('/api/auth/password', { json: { current_password, new_password } }),
  signOutEverywhere: () => request<{ sessions_ended: number }>('/api/auth/logout-everywhere', { method: 'POST' }),
  deleteAccount: (password: string) => request<unknown>('/api/auth/account', { method: 'DELETE', json: { password } }),
};

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function Alert({ text }: { text: string | null }) {
  return text ? (
    <p role="alert" className="text-sm text-rose-700">
      {text}
    </p>
  ) : null;
}

function PasswordForm() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      const grant = await accountApi.changePassword(current, next);
      setToken(grant.token); // every other session ended; this one carries on with the new token
      setCurrent('');
      setNext('');
      setDone(true);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} className="flex flex-col gap-3" aria-label="Change password">
      <h3 className="font-medium">Change password</h3>
      <label className="text-sm text-slate-700">
        Current password
        <input type="password" autoComplete="current-password" className={field} value={current} onChange={(e) => setCurrent(e.target.value)} required />
      </label>
      <label className="text-sm text-slate-700">
        New password (8 characters or more)
        <input type="password" autoComplete="new-password" className={field} value={next} onChange={(e) => setNext(e.target.value)} minLength={8} maxLength={256} required />
      </label>
      <Alert text={error} />
      {done && (
        <p role="status" className="text-sm text-emerald-800">
          Password changed. Every other session was signed out.
        </p>
      )}
      <div>
        <Button type="submit" variant="primary" disabled={busy}>
          <KeyRound className="h-4 w-4" aria-hidden="true" /> Change password
        </Button>
      </div>
    </form>
  );
}

function SignOutEverywhere({ onSignedOut }: { onSignedOut: () => Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setError(null);
    try {
      await accountApi.signOutEverywhere();
      await onSignedOut();
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <div className="flex flex-col gap-2">
      <h3 className="font-medium">Sessions</h3>
      <p className="text-sm text-slate-600">Lost a laptop or signed in somewhere shared? End every session, this one too; open live-call connections are closed.</p>
      <Alert text={error} />
      <div>
        <Button onClick={() => void run()}>
          <LogOut className="h-4 w-4" aria-hidden="true" /> Sign out everywhere
        </Button>
      </div>
    </div>
  );
}

function DeleteAccount({ onDeleted }: { onDeleted: () => Promise<void> }) {
  const [password, setPassword] = useState('');
  const [sure, setSure] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await accountApi.deleteAccount(password);
      await onDeleted();
    } catch (err) {
      setError(message(err));
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} className="flex flex-col gap-3" aria-label="Delete account">
      <h3 className="font-medium text-rose-800">Delete account</h3>
      <p className="text-sm text-slate-600">
        Deletes your calls (transcripts, tips, notes), the comments you wrote, your voice check and every session. Documents and vocabulary you added stay with your workspace. If you are its only member, the whole
        workspace is deleted. The only admin of a team makes someone else admin first.
      </p>
      <label className="text-sm text-slate-700">
        Your password
        <input type="password" autoComplete="current-password" className={field} value={password} onChange={(e) => setPassword(e.target.value)} required />
      </label>
      <label className="flex items-center gap-2 text-sm text-slate-700">
        <input type="checkbox" className="h-4 w-4 accent-rose-600" checked={sure} onChange={(e) => setSure(e.target.checked)} />
        I understand this cannot be undone
      </label>
      <Alert text={error} />
      <div>
        <Button type="submit" variant="danger" disabled={busy || !sure}>
          <Trash2 className="h-4 w-4" aria-hidden="true" /> Delete my account
        </Button>
      </div>
    </form>
  );
}

function AccountCard() {
  const { user, localMode, logout } = useAuth();
  return (
    <Card title="Your account" className="mb-6">
      {localMode ? (
        <p className="text-sm text-slate-600">Local mode has no password or sessions to manage: run the server with sign-in (WINGMAN_AUTH=required) for accounts.</p>
      ) : (
        <div className="flex flex-col gap-6">
          <p className="text-sm text-slate-600">
            Signed in as <span className="font-medium text-slate-900">{user?.email}</span>
          </p>
          <PasswordForm />
          <SignOutEverywhere onSignedOut={logout} />
          <DeleteAccount onDeleted={logout} />
        </div>
      )}
    </Card>
  );
}

const STATUS: Record<CrmStatus['status'], { text: string; tone: 'emerald' | 'rose' | 'slate' }> = {
  connected: { text: 'connected', tone: 'emerald' },
  needs_reconnect: { text: 'access revoked: reconnect', tone: 'rose' },
  not_connected: { text: 'not connected', tone: 'slate' },
};

function CrmRow({ crm, onChange }: { crm: CrmStatus; onChange: (list?: CrmStatus[]) => void }) {
  const [error, setError] = useState<string | null>(null);
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      const out = await fn();
      onChange(Array.isArray(out) ? (out as CrmStatus[]) : undefined);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const connect = () =>
    act(async () => {
      const { authorize_url } = await afterApi.connect(crm.provider);
      window.location.assign(authorize_url); // the CRM's consent page; it sends the browser back here
    });
  const status = STATUS[crm.status];
  return (
    <li className="flex flex-col gap-2 py-3" data-testid={`crm-${crm.provider}`}>
      <div className="flex flex-wrap items-center gap-3">
        <span className="w-24 font-medium">{crm.label}</span>
        <Badge tone={status.tone}>{status.text}</Badge>
        {crm.account && <span className="text-sm text-slate-500">{crm.account}</span>}
        <span className="ml-auto flex gap-2">
          {!crm.configured ? (
            <span className="text-sm text-slate-500">not configured on this server (WINGMAN_{crm.provider.toUpperCase()}_CLIENT_ID)</span>
          ) : !crm.can_manage ? (
            <span className="text-sm text-slate-500">only a workspace admin can {crm.status === 'not_connected' ? 'connect' : 'change'} it</span>
          ) : crm.status === 'connected' ? (
            <Button onClick={() => void act(() => afterApi.disconnect(crm.provider))}>
              <Unlink className="h-4 w-4" aria-hidden="true" /> Disconnect
            </Button>
          ) : (
            <Button variant="primary" onClick={() => void connect()}>
              <Link2 className="h-4 w-4" aria-hidden="true" /> {crm.status === 'needs_reconnect' ? 'Reconnect' : 'Connect'} {crm.label}
            </Button>
          )}
        </span>
      </div>
      {crm.status !== 'not_connected' && crm.can_manage && (
        <label className="flex items-center gap-2 text-sm text-slate-600">
          <input type="checkbox" className="h-4 w-4 accent-indigo-600" checked={crm.auto_sync} onChange={(e) => void act(() => afterApi.setAutoSync(crm.provider, e.target.checked))} />
          Write every finished call to {crm.label} automatically
        </label>
      )}
      {crm.status === 'connected' && !crm.can_manage && crm.auto_sync && (
        <p className="text-sm text-slate-600">Every finished call is written to {crm.label} automatically.</p>
      )}
      {error && (
        <p role="alert" className="text-sm text-rose-700">
          {error}
        </p>
      )}
    </li>
  );
}

export function SettingsPage() {
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const crms = useQuery({ queryKey: ['crm'], queryFn: ({ signal }) => afterApi.crms(signal) });
  const result = params.get('result');
  const which = params.get('crm');
  const onChange = (list?: CrmStatus[]) => {
    if (list) queryClient.setQueryData(['crm'], list);
    else void queryClient.invalidateQueries({ queryKey: ['crm'] });
  };
  return (
    <>
      <PageHeader title="Settings" subtitle="Your account, and your CRM: Wingman writes each call's summary, key moments and action items to it." />
      {result && which && (
        <p role="status" className={`mb-4 rounded-md px-3 py-2 text-sm ${result === 'connected' ? 'bg-emerald-50 text-emerald-800' : 'bg-rose-50 text-rose-800'}`}>
          {result === 'connected' ? `Connected ${which === 'hubspot' ? 'HubSpot' : 'Salesforce'}.` : `Could not connect: ${params.get('reason') ?? 'unknown error'}`}
        </p>
      )}
      <AccountCard />
      <Card title="CRM">
        {crms.error ? (
          <ErrorState error={crms.error} onRetry={() => void crms.refetch()} />
        ) : !crms.data ? (
          <Spinner label="Loading CRM connections" />
        ) : (
          <ul className="divide-y divide-slate-100">
            {crms.data.map((c) => (
              <CrmRow key={c.provider} crm={c} onChange={onChange} />
            ))}
          </ul>
        )}
      </Card>
      <RecordingSettingsCard />
    </>
  );
}
