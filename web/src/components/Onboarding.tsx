import { useQuery } from '@tanstack/react-query';
import { CheckCircle2, Circle } from 'lucide-react';
import { Link } from 'react-router';
import { api, request } from '../api/client';
import { useUser } from '../lib/auth';
import { keys } from '../lib/query';

interface Step {
  done: boolean;
  title: string;
  hint: string;
  to: string;
}

/** A new workspace's setup, step by step, until every step is done: company profile,
 * competitors, documents, playbook, team and a test call. Shown to admins and managers. */
export function Onboarding() {
  const user = useUser();
  const lead = user?.role === 'admin' || user?.role === 'manager';
  // the company profile is the tips area's (GET /api/profile); its form lives with it
  const profile = useQuery({
    queryKey: ['profile'],
    queryFn: ({ signal }) => request<{ profile: { name: string; competitors: unknown[] } | null }>('/api/profile', { signal }),
    enabled: lead,
  });
  const docs = useQuery({ queryKey: keys.knowledge, queryFn: ({ signal }) => api.listKnowledge(signal), enabled: lead });
  const playbook = useQuery({ queryKey: ['playbook'], queryFn: ({ signal }) => api.playbook(signal), enabled: lead });
  const members = useQuery({ queryKey: ['members'], queryFn: ({ signal }) => api.members(signal), enabled: lead });
  const invitations = useQuery({ queryKey: ['invitations'], queryFn: ({ signal }) => api.invitations(signal), enabled: lead });
  const stats = useQuery({ queryKey: keys.stats, queryFn: ({ signal }) => api.stats(signal), enabled: lead });
  if (!lead || [profile, docs, playbook, members, invitations, stats].some((q) => q.isPending)) return null;

  const company = profile.data?.profile;
  const steps: Step[] = [
    { done: Boolean(company?.name), title: 'Describe your company', hint: 'Name, what you sell and your products, so tips speak about you.', to: '/profile' },
    { done: (company?.competitors.length ?? 0) > 0, title: 'Name your competitors', hint: 'Add them to the profile; a battlecard document each makes the briefs sharp.', to: '/profile' },
    { done: (docs.data?.length ?? 0) > 0, title: 'Upload your documents', hint: 'Pricing, FAQs, security answers: the agents answer from them.', to: '/knowledge' },
    { done: (playbook.data?.version ?? 0) > 0, title: 'Make the playbook yours', hint: 'Edit triggers and tips, or save the template as it is.', to: '/playbook' },
    { done: (members.data?.length ?? 0) > 1 || (invitations.data?.length ?? 0) > 0, title: 'Invite your team', hint: 'Each rep gets a single-use link.', to: '/team' },
    { done: (stats.data?.total_calls ?? 0) > 0, title: 'Make a test call', hint: 'Start a call and say “that is too expensive for us”.', to: '/live' },
  ];
  const left = steps.filter((s) => !s.done).length;
  if (left === 0) return null;
  return (
    <section aria-label="Set up your workspace" className="mb-6 rounded-lg border border-indigo-200 bg-indigo-50/60 p-4">
      <h2 className="text-sm font-semibold text-indigo-900">Set up your workspace: {steps.length - left} of {steps.length} done</h2>
      <ol className="mt-3 grid gap-2 md:grid-cols-2 lg:grid-cols-3">
        {steps.map((s) => (
          <li key={s.title} className="flex gap-2 text-sm">
            {s.done ? <CheckCircle2 className="mt-0.5 h-4 w-4 shrink-0 text-emerald-600" aria-label="done" /> : <Circle className="mt-0.5 h-4 w-4 shrink-0 text-slate-400" aria-label="to do" />}
            <span>
              <Link to={s.to} className={`font-medium ${s.done ? 'text-slate-700 line-through' : 'text-indigo-800 underline'}`}>{s.title}</Link>
              <span className="block text-xs text-slate-600">{s.hint}</span>
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
