import { useQuery, useQueryClient } from '@tanstack/react-query';
import { MessageSquare } from 'lucide-react';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { KeyMoment } from '../api/types';
import { useUser } from '../lib/auth';
import { formatDateTime, momentLabel } from '../lib/format';
import { clock } from '../realtime/transcript';
import { Button, Card } from './ui';

/** Managers' coaching comments on a call's moments; the call's rep reads them here. */
export function CoachingComments({ callId, moments, onJump }: { callId: string; moments: KeyMoment[]; onJump: (at: number) => void }) {
  const user = useUser();
  const queryClient = useQueryClient();
  const key = ['call', callId, 'comments'];
  const comments = useQuery({ queryKey: key, queryFn: ({ signal }) => api.comments(callId, signal) });
  const [text, setText] = useState('');
  const [at, setAt] = useState('');
  const [error, setError] = useState<string | null>(null);
  const canWrite = user?.role === 'admin' || user?.role === 'manager';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await api.addComment(callId, at === '' ? { text } : { text, at_seconds: Number(at) });
      setText('');
      await queryClient.invalidateQueries({ queryKey: key });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const list = comments.data ?? [];
  return (
    <Card title={<span className="flex items-center gap-1.5"><MessageSquare className="h-4 w-4" aria-hidden="true" /> Coaching comments</span>}>
      {list.length === 0 ? (
        <p className="text-sm text-slate-500">{canWrite ? 'No comments yet: pick a moment and say what went well or what to try next time.' : 'No coaching comments on this call yet.'}</p>
      ) : (
        <ul className="flex flex-col gap-2 text-sm" aria-label="Coaching comments">
          {list.map((c) => (
            <li key={c.id}>
              <div className="text-xs text-slate-500">
                {c.author_name}, {formatDateTime(c.created_at)}
                {c.at_seconds != null && (
                  <button type="button" className="ml-2 text-indigo-700 underline" onClick={() => onJump(c.at_seconds ?? 0)}>at {clock(c.at_seconds)}</button>
                )}
              </div>
              <p className="text-slate-800">{c.text}</p>
            </li>
          ))}
        </ul>
      )}
      {canWrite && (
        <form onSubmit={(e) => void submit(e)} className="mt-3 flex flex-col gap-2">
          <label className="text-xs font-medium text-slate-600">
            Moment
            <select aria-label="Moment" className="ml-2 rounded-md border border-slate-300 px-2 py-1 text-sm" value={at} onChange={(e) => setAt(e.target.value)}>
              <option value="">the whole call</option>
              {moments.map((m, i) => <option key={i} value={m.at}>{clock(m.at)} {momentLabel(m.kind)}</option>)}
            </select>
          </label>
          <textarea aria-label="Comment" className="rounded-md border border-slate-300 px-2 py-1.5 text-sm" rows={2} required value={text} onChange={(e) => setText(e.target.value)} />
          {error && <p role="alert" className="text-sm text-rose-700">{error}</p>}
          <Button type="submit" variant="primary" disabled={!text.trim()}>Add comment</Button>
        </form>
      )}
    </Card>
  );
}
