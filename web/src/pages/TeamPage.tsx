import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Copy, Send, Trash2, Users } from 'lucide-react';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { api } from '../api/client';
import type { Role, User } from '../api/types';
import { Badge, Button, Card, EmptyState, ErrorState, PageHeader, Spinner } from '../components/ui';
import { useUser } from '../lib/auth';
import { formatDateTime } from '../lib/format';

const ROLES: Role[] = ['rep', 'manager', 'admin'];
const input = 'rounded-md border border-slate-300 px-2 py-1.5 text-sm focus:border-indigo-500 focus:outline-2 focus:outline-indigo-500';

function percent(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : `${Math.round(v * 100)}%`;
}

/** Members, invitations and the per-rep dashboard (managers see their team, admins everyone). */
export function TeamPage() {
  const user = useUser();
  const queryClient = useQueryClient();
  const admin = user?.role === 'admin';
  const manager = admin || user?.role === 'manager';
  const members = useQuery({ queryKey: ['members'], queryFn: ({ signal }) => api.members(signal), enabled: manager });
  const invitations = useQuery({ queryKey: ['invitations'], queryFn: ({ signal }) => api.invitations(signal), enabled: manager });
  const team = useQuery({ queryKey: ['team'], queryFn: ({ signal }) => api.team(signal), enabled: manager });
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('rep');
  const [message, setMessage] = useState<{ ok: boolean; text: string; link?: string } | null>(null);
  const refresh = () => Promise.all(['members', 'invitations', 'team'].map((k) => queryClient.invalidateQueries({ queryKey: [k] })));

  const act = async (what: () => Promise<unknown>, done: string) => {
    setMessage(null);
    try {
      await what();
      setMessage({ ok: true, text: done });
      void refresh();
    } catch (err) {
      setMessage({ ok: false, text: err instanceof Error ? err.message : String(err) });
    }
  };

  const invite = async (e: FormEvent) => {
    e.preventDefault();
    setMessage(null);
    try {
      const out = await api.invite({ email, role: admin ? role : 'rep' });
      const how = out.emailed ? `Invitation emailed to ${out.invitation.email}.` : `Invitation made for ${out.invitation.email}: send them this link.`;
      setMessage({ ok: true, text: out.email_error ? `${how} (email failed: ${out.email_error})` : how, link: out.link });
      setEmail('');
      void refresh();
    } catch (err) {
      setMessage({ ok: false, text: err instanceof Error ? err.message : String(err) });
    }
  };

  if (!manager) {
    return (
      <>
        <PageHeader title="Team" />
        <EmptyState icon={<Users className="h-6 w-6" />} title="Your manager sees the team here">
          Your own figures are on the <Link className="text-indigo-700 underline" to="/">dashboard</Link>; coaching comments appear on your calls.
        </EmptyState>
      </>
    );
  }
  const managers = (members.data ?? []).filter((m) => m.role !== 'rep');
  const nameOf = (id: string | null | undefined) => (members.data ?? []).find((m) => m.id === id)?.name ?? '—';

  return (
    <>
      <PageHeader title="Team" subtitle="Invite reps, set roles and managers, and see how each rep is doing." />
      <form onSubmit={(e) => void invite(e)} aria-label="Invite someone" className="mb-4 flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
        <label className="text-sm font-medium text-slate-700">
          Email
          <input className={`${input} ml-2 w-64`} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        {admin && (
          <label className="text-sm font-medium text-slate-700">
            Role
            <select className={`${input} ml-2`} value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          </label>
        )}
        <Button type="submit" variant="primary"><Send className="h-4 w-4" aria-hidden="true" /> Invite</Button>
      </form>
      {message && (
        <div role={message.ok ? 'status' : 'alert'} className={`mb-4 text-sm ${message.ok ? 'text-emerald-700' : 'text-rose-700'}`}>
          {message.text}
          {message.link && (
            <div className="mt-1 flex items-center gap-2">
              <input aria-label="Invitation link" readOnly value={message.link} className={`${input} w-full max-w-xl font-mono text-xs`} />
              <Button variant="ghost" onClick={() => void navigator.clipboard?.writeText(message.link ?? '')}><Copy className="h-4 w-4" aria-hidden="true" /> Copy</Button>
            </div>
          )}
        </div>
      )}
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Members">
          {members.isPending ? <Spinner /> : members.error ? <ErrorState error={members.error} onRetry={() => void members.refetch()} /> : (
            <table className="w-full text-sm">
              <thead><tr className="text-left text-xs text-slate-500"><th>Name</th><th>Role</th><th>Manager</th><th /></tr></thead>
              <tbody>
                {members.data.map((m: User) => (
                  <tr key={m.id} className="border-t border-slate-100" data-testid={`member-${m.email}`}>
                    <td className="py-2"><div className="font-medium">{m.name}</div><div className="text-xs text-slate-500">{m.email}</div></td>
                    <td>
                      {admin ? (
                        <select aria-label={`Role of ${m.email}`} className={input} value={m.role} onChange={(e) => void act(() => api.updateMember(m.id, { role: e.target.value as Role }), `${m.name} is now ${e.target.value}.`)}>
                          {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                        </select>
                      ) : <Badge>{m.role}</Badge>}
                    </td>
                    <td>
                      {admin && m.role === 'rep' ? (
                        <select aria-label={`Manager of ${m.email}`} className={input} value={m.manager_id ?? ''} onChange={(e) => void act(() => api.updateMember(m.id, e.target.value ? { manager_id: e.target.value } : { clear_manager: true }), `${m.name}'s manager changed.`)}>
                          <option value="">nobody</option>
                          {managers.map((g) => <option key={g.id} value={g.id}>{g.name}</option>)}
                        </select>
                      ) : nameOf(m.manager_id)}
                    </td>
                    <td className="text-right">
                      {admin && m.id !== user?.id && (
                        <Button variant="ghost" aria-label={`Remove ${m.email}`} onClick={() => { if (window.confirm(`Remove ${m.name} from the workspace?`)) void act(() => api.removeMember(m.id), `${m.name} was removed.`); }}>
                          <Trash2 className="h-4 w-4" aria-hidden="true" />
                        </Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        <Card title="Pending invitations">
          {invitations.isPending ? <Spinner /> : invitations.error ? <ErrorState error={invitations.error} /> : invitations.data.length === 0 ? (
            <p className="text-sm text-slate-500">No pending invitations. Invite your reps above: each gets a single-use link.</p>
          ) : (
            <ul className="flex flex-col gap-2 text-sm">
              {invitations.data.map((i) => (
                <li key={i.id} className="flex items-center justify-between gap-2">
                  <span>{i.email} <Badge>{i.role}</Badge> {i.expired ? <Badge tone="rose">expired</Badge> : <span className="text-xs text-slate-500">until {formatDateTime(i.expires_at)}</span>}</span>
                  <Button variant="ghost" onClick={() => void act(() => api.revokeInvitation(i.id), `Invitation for ${i.email} withdrawn.`)}>Withdraw</Button>
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
      <Card title="Reps" className="mt-4">
        {team.isPending ? <Spinner /> : team.error ? <ErrorState error={team.error} /> : team.data.reps.length === 0 ? (
          <p className="text-sm text-slate-500">No reps on your team yet. An admin sets a rep's manager above.</p>
        ) : (
          <table className="w-full text-sm" aria-label="Reps">
            <thead><tr className="text-left text-xs text-slate-500"><th>Rep</th><th>Calls</th><th>Talk ratio</th><th>Top objections</th><th>Tips liked</th><th /></tr></thead>
            <tbody>
              {team.data.reps.map(({ member, stats }) => (
                <tr key={member.id} className="border-t border-slate-100">
                  <td className="py-2 font-medium">{member.name}</td>
                  <td>{stats.total_calls}</td>
                  <td>{percent(stats.avg_rep_talk_ratio)}</td>
                  <td>{stats.top_objections.map((o) => `${o.name} (${o.count})`).join(', ') || '–'}</td>
                  <td>{stats.insights_liked} of {stats.insights_shown}</td>
                  <td><Link className="text-indigo-700 underline" to={`/calls?rep=${encodeURIComponent(member.id)}`}>Calls</Link></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}
