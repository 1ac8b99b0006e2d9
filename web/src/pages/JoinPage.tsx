import { useQuery } from '@tanstack/react-query';
import { UserPlus } from 'lucide-react';
import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api } from '../api/client';
import { Button, Spinner } from '../components/ui';
import { useAuth } from '../lib/auth';

/** /join?token=...: what an invitation offers, and the form that creates the invited account. */
export function JoinPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const auth = useAuth();
  const navigate = useNavigate();
  const invitation = useQuery({
    queryKey: ['invitation', token],
    queryFn: ({ signal }) => api.lookupInvitation(token, signal),
    enabled: token !== '',
  });
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await auth.acceptInvitation(token, name, password);
      navigate('/', { replace: true });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const input = 'mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm focus:border-indigo-500 focus:outline-2 focus:outline-indigo-500';
  let body;
  if (!token) {
    body = <p role="alert" className="text-sm text-rose-700">This link has no invitation in it: open the link from your invitation again.</p>;
  } else if (invitation.isPending) {
    body = <Spinner label="Checking the invitation" />;
  } else if (invitation.error) {
    body = (
      <div role="alert" className="text-sm text-rose-700">
        <p className="font-medium">{invitation.error.message}</p>
        <p className="mt-2 text-slate-600">Ask your workspace admin to send you a new invitation.</p>
      </div>
    );
  } else {
    const inv = invitation.data;
    body = (
      <>
        <p className="mb-4 text-sm text-slate-600">
          Join <strong className="text-slate-900">{inv.workspace_name}</strong> as a <strong className="text-slate-900">{inv.role}</strong> with <strong className="text-slate-900">{inv.email}</strong>.
        </p>
        <form onSubmit={(e) => void submit(e)} className="flex flex-col gap-4">
          <label className="text-sm font-medium text-slate-700">
            Your name
            <input className={input} value={name} onChange={(e) => setName(e.target.value)} required autoComplete="name" />
          </label>
          <label className="text-sm font-medium text-slate-700">
            Choose a password
            <input className={input} type="password" value={password} onChange={(e) => setPassword(e.target.value)} required minLength={8} autoComplete="new-password" />
          </label>
          {error && <p role="alert" className="text-sm text-rose-700">{error}</p>}
          <Button type="submit" variant="primary" disabled={busy}>
            <UserPlus className="h-4 w-4" aria-hidden="true" /> {busy ? 'Joining…' : 'Join the workspace'}
          </Button>
        </form>
      </>
    );
  }
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex items-center justify-center gap-2">
          <img src="/favicon.svg" alt="" className="h-9 w-9" />
          <span className="text-2xl font-semibold tracking-tight">Wingman</span>
        </div>
        <div className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
          <h1 className="mb-3 text-lg font-semibold">You're invited</h1>
          {body}
        </div>
      </div>
    </main>
  );
}
