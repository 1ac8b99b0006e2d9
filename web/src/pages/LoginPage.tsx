import { LogIn, UserPlus } from 'lucide-react';
import { useState } from 'react';
import { useAuth } from '../lib/auth';
import { AuthCard, AuthField, AuthForm } from '../components/AuthForm';

export function LoginPage() {
  const auth = useAuth();
  const [mode, setMode] = useState<'login' | 'register'>('login');
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');

  const submit = async () => {
    if (mode === 'login') await auth.login(email, password);
    else await auth.register(email, name, password);
  };

  const icon = mode === 'login' ? <LogIn className="h-4 w-4" aria-hidden="true" /> : <UserPlus className="h-4 w-4" aria-hidden="true" />;
  return (
    <AuthCard>
      <div role="tablist" aria-label="Sign in or create an account" className="mb-5 grid grid-cols-2 rounded-md bg-slate-100 p-1 text-sm">
        {(['login', 'register'] as const).map((m) => (
          <button
            key={m}
            role="tab"
            type="button"
            aria-selected={mode === m}
            onClick={() => setMode(m)}
            className={`rounded px-3 py-1.5 font-medium ${mode === m ? 'bg-white text-slate-900 shadow-sm' : 'text-slate-600 hover:text-slate-800'}`}
          >
            {m === 'login' ? 'Sign in' : 'Create account'}
          </button>
        ))}
      </div>
      {/* keyed by mode: switching tabs clears the other form's error */}
      <AuthForm
        key={mode}
        action={submit}
        label={mode === 'login' ? 'Sign in' : 'Create account'}
        busyLabel="Please wait…"
        icon={icon}
      >
        {mode === 'register' && (
          <AuthField label="Name" value={name} onChange={(e) => setName(e.target.value)} required autoComplete="name" />
        )}
        <AuthField label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoComplete="email" />
        <AuthField
          label="Password"
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
          minLength={mode === 'register' ? 8 : undefined}
          autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
        />
      </AuthForm>
    </AuthCard>
  );
}
