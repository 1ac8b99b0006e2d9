/** The signed-out pages' form parts (sign in / create account, join by invitation), so the
 * two pages look and behave alike: one frame, one field, one submit with its busy and error. */
import { useState, type FormEvent, type InputHTMLAttributes, type ReactNode } from 'react';
import { Button } from './ui';

const INPUT =
  'mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-xs focus:border-indigo-500 focus:outline-2 focus:outline-indigo-500';

/** The Wingman mark over one card, centred on the page; `title` heads the card. */
export function AuthCard({ title, children }: { title?: string; children: ReactNode }) {
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex items-center justify-center gap-2">
          <img src="/favicon.svg" alt="" className="h-9 w-9" />
          <span className="text-2xl font-semibold tracking-tight">Wingman</span>
        </div>
        <div className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
          {title && <h1 className="mb-3 text-lg font-semibold">{title}</h1>}
          {children}
        </div>
      </div>
    </main>
  );
}

/** A labelled input (the label names it for screen readers and tests). */
export function AuthField({ label, ...input }: { label: string } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <label className="text-sm font-medium text-slate-700">
      {label}
      <input className={INPUT} {...input} />
    </label>
  );
}

/** A form that runs `action` on submit: the button is busy meanwhile, and a failure's message
 * shows above it until the next try. */
export function AuthForm({
  action,
  label,
  busyLabel,
  icon,
  children,
}: {
  action: () => Promise<void>;
  label: string;
  busyLabel: string;
  icon: ReactNode;
  children: ReactNode;
}) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} className="flex flex-col gap-4">
      {children}
      {error && (
        <p role="alert" className="rounded-md bg-rose-50 px-3 py-2 text-sm text-rose-700">
          {error}
        </p>
      )}
      <Button type="submit" variant="primary" disabled={busy}>
        {icon}
        {busy ? busyLabel : label}
      </Button>
    </form>
  );
}
