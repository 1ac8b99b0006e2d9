/**
 * The names Wingman listens for: the terms found automatically (company, competitors, products,
 * names in the knowledge base and the playbook) and the user's own, which they add and remove
 * here. Speech recognition is primed with them and the agents match them even when misheard.
 * Talks to GET/PUT /api/vocabulary.
 */
import { Plus, Tags, X } from 'lucide-react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { request } from '../api/client';
import { keys } from '../lib/query';
import { Badge, Button, Card, ErrorState, Spinner } from './ui';

export type TermSource = 'user' | 'company' | 'competitor' | 'product' | 'knowledge' | 'playbook';

export interface VocabularyTerm {
  text: string;
  source: TermSource;
}

export interface Vocabulary {
  terms: VocabularyTerm[];
  user_terms: string[];
  max_terms: number;
  max_user_terms: number;
}

export const MAX_TERM_CHARS = 64;

export const vocabularyApi = {
  get: (signal?: AbortSignal) => request<Vocabulary>('/api/vocabulary', { signal }),
  put: (userTerms: string[]) =>
    request<Vocabulary>('/api/vocabulary', { method: 'PUT', json: { user_terms: userTerms } }),
};

const SOURCE_LABEL: Record<TermSource, string> = {
  user: 'yours',
  company: 'your company',
  competitor: 'competitor',
  product: 'product',
  knowledge: 'knowledge base',
  playbook: 'playbook',
};

const SOURCE_TONE: Record<TermSource, 'slate' | 'indigo' | 'emerald' | 'amber' | 'rose' | 'sky'> = {
  user: 'indigo',
  company: 'emerald',
  competitor: 'rose',
  product: 'sky',
  knowledge: 'slate',
  playbook: 'amber',
};

/** Why a new term cannot be added, or null when it can. */
export function termProblem(term: string, existing: string[], max: number): string | null {
  const clean = term.trim().replace(/\s+/g, ' ');
  if (!clean) return 'Type a name or term first.';
  if (clean.length > MAX_TERM_CHARS) return `A term can have at most ${MAX_TERM_CHARS} characters.`;
  if (existing.some((t) => t.toLowerCase() === clean.toLowerCase())) return `“${clean}” is already in your terms.`;
  if (existing.length >= max) return `You can add up to ${max} terms.`;
  return null;
}

/** Reads and saves through the query cache under `keys.vocabulary`, which the knowledge page
 * invalidates when documents change (the names found in them change too). */
export function VocabularyEditor() {
  const queryClient = useQueryClient();
  const vocab = useQuery({ queryKey: keys.vocabulary, queryFn: ({ signal }) => vocabularyApi.get(signal) });
  const [draft, setDraft] = useState('');
  const [saving, setSaving] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  const save = async (userTerms: string[], done: string) => {
    setSaving(true);
    setMessage(null);
    try {
      const next = await vocabularyApi.put(userTerms);
      queryClient.setQueryData(keys.vocabulary, next);
      setMessage({ ok: true, text: done });
      return true;
    } catch (err) {
      setMessage({ ok: false, text: err instanceof Error ? err.message : String(err) });
      return false;
    } finally {
      setSaving(false);
    }
  };

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const data = vocab.data;
    if (!data) return;
    const problem = termProblem(draft, data.user_terms, data.max_user_terms);
    if (problem) {
      setMessage({ ok: false, text: problem });
      return;
    }
    const term = draft.trim().replace(/\s+/g, ' ');
    if (await save([...data.user_terms, term], `Added “${term}”.`)) setDraft('');
  };

  const remove = (term: string) => {
    const data = vocab.data;
    if (!data) return;
    void save(
      data.user_terms.filter((t) => t !== term),
      `Removed “${term}”.`,
    );
  };

  const auto = vocab.data?.terms.filter((t) => t.source !== 'user') ?? [];
  return (
    <Card
      className="mt-8"
      title={
        <span className="inline-flex items-center gap-2">
          <Tags className="h-4 w-4" aria-hidden="true" /> Names Wingman listens for
        </span>
      }
    >
      <p className="mb-4 text-sm text-slate-600">
        Speech recognition is primed with these names, most important first, and the agents recognize them even when they are misheard. Wingman finds most of them in your documents; add the ones it misses.
      </p>
      {vocab.error ? (
        <ErrorState error={vocab.error} onRetry={() => void vocab.refetch()} />
      ) : !vocab.data ? (
        <Spinner label="Loading vocabulary" />
      ) : (
        <>
          <form onSubmit={(e) => void add(e)} className="mb-3 flex flex-wrap items-center gap-2">
            <label htmlFor="vocabulary-term" className="text-sm font-medium text-slate-700">
              Add a term
            </label>
            <input
              id="vocabulary-term"
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              maxLength={MAX_TERM_CHARS}
              placeholder="e.g. a competitor or product name"
              className="min-w-56 flex-1 rounded-md border border-slate-300 px-3 py-1.5 text-sm focus:border-indigo-500 focus:outline-none"
            />
            <Button type="submit" variant="primary" disabled={saving || !draft.trim()}>
              <Plus className="h-4 w-4" aria-hidden="true" /> Add
            </Button>
            <span className="text-xs text-slate-500">
              {vocab.data.user_terms.length}/{vocab.data.max_user_terms} of your own
            </span>
          </form>
          {message && (
            <p role={message.ok ? 'status' : 'alert'} className={`mb-3 text-sm ${message.ok ? 'text-emerald-700' : 'text-rose-700'}`}>
              {message.text}
            </p>
          )}
          <h3 className="mb-2 text-xs font-semibold uppercase tracking-wide text-slate-500">Your terms</h3>
          {vocab.data.user_terms.length === 0 ? (
            <p className="mb-4 text-sm text-slate-500">None yet.</p>
          ) : (
            <ul aria-label="Your terms" className="mb-4 flex flex-wrap gap-2">
              {vocab.data.user_terms.map((term) => (
                <li key={term} className="inline-flex items-center gap-1 rounded-full bg-indigo-50 py-1 pl-3 pr-1 text-sm text-indigo-800">
                  {term}
                  <button
                    type="button"
                    onClick={() => remove(term)}
                    disabled={saving}
                    aria-label={`Remove ${term}`}
                    className="rounded-full p-0.5 hover:bg-indigo-100 disabled:opacity-50"
                  >
                    <X className="h-3.5 w-3.5" aria-hidden="true" />
                  </button>
                </li>
              ))}
            </ul>
          )}
          <h3 className="mb-2 text-xs font-semibold uppercase tracking-wide text-slate-500">Found automatically</h3>
          {auto.length === 0 ? (
            <p className="text-sm text-slate-500">Nothing yet: upload battlecards and product documents.</p>
          ) : (
            <ul aria-label="Found automatically" className="flex flex-wrap gap-2">
              {auto.map((t) => (
                <li key={t.text} className="inline-flex items-center gap-1.5 text-sm text-slate-700">
                  {t.text} <Badge tone={SOURCE_TONE[t.source]}>{SOURCE_LABEL[t.source]}</Badge>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </Card>
  );
}
