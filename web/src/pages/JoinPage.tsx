import { useQuery } from '@tanstack/react-query';
import { UserPlus } from 'lucide-react';
import { useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api } from '../api/client';
import { AuthCard, AuthField, AuthForm } from '../components/AuthForm';
import { Spinner } from '../components/ui';
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

  const join = async () => {
    await auth.acceptInvitation(token, name, password);
    navigate('/', { replace: true });
  };

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
        <AuthForm action={join} label="Join the workspace" busyLabel="Joining…" icon={<UserPlus className="h-4 w-4" aria-hidden="true" />}>
          <AuthField label="Your name" value={name} onChange={(e) => setName(e.target.value)} required autoComplete="name" />
          <AuthField label="Choose a password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} required minLength={8} autoComplete="new-password" />
        </AuthForm>
      </>
    );
  }
  return <AuthCard title="You're invited">{body}</AuthCard>;
}
