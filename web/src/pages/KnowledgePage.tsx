import { useQuery, useQueryClient } from '@tanstack/react-query';
import { FileText, Trash2, Upload } from 'lucide-react';
import { useRef, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { KnowledgeDocument } from '../api/types';
import { Button, EmptyState, ErrorState, PageHeader, Spinner } from '../components/ui';
import { VocabularyEditor } from '../components/VocabularyEditor';
import { formatBytes, formatDateTime } from '../lib/format';
import { keys } from '../lib/query';

function docName(d: KnowledgeDocument): string {
  return d.filename || d.id;
}

export function KnowledgePage() {
  const queryClient = useQueryClient();
  const docs = useQuery({ queryKey: keys.knowledge, queryFn: ({ signal }) => api.listKnowledge(signal) });
  // the names found in the documents change with them
  const changed = () => Promise.all([queryClient.invalidateQueries({ queryKey: keys.knowledge }), queryClient.invalidateQueries({ queryKey: keys.vocabulary })]);
  const fileInput = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [uploading, setUploading] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);

  const upload = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    setUploading(true);
    setMessage(null);
    try {
      const doc = await api.uploadKnowledge(file);
      setMessage({ ok: true, text: `Added “${docName(doc) || file.name}”.` });
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
      void changed();
    } catch (err) {
      setMessage({ ok: false, text: err instanceof Error ? err.message : String(err) });
    } finally {
      setUploading(false);
    }
  };

  const remove = async (d: KnowledgeDocument) => {
    if (!window.confirm(`Delete “${docName(d)}” from the knowledge base?`)) return;
    setDeleting(d.id);
    setMessage(null);
    try {
      await api.deleteKnowledge(d.id);
      queryClient.setQueryData<KnowledgeDocument[]>(keys.knowledge, (prev) => prev?.filter((x) => x.id !== d.id));
      void changed();
      setMessage({ ok: true, text: `Deleted “${docName(d)}”.` });
    } catch (err) {
      setMessage({ ok: false, text: err instanceof Error ? err.message : String(err) });
    } finally {
      setDeleting(null);
    }
  };

  return (
    <>
      <PageHeader title="Knowledge base" subtitle="Pricing sheets, battlecards, FAQs and security docs the agents answer from." />
      <form onSubmit={(e) => void upload(e)} className="mb-6 flex flex-wrap items-center gap-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
        <label className="text-sm font-medium text-slate-700">
          <span className="mr-3">Add a document</span>
          <input
            ref={fileInput}
            type="file"
            name="file"
            accept=".md,.markdown,.txt,.pdf,text/plain,text/markdown,application/pdf"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            className="text-sm file:mr-3 file:rounded-md file:border file:border-slate-300 file:bg-white file:px-3 file:py-1.5 file:text-sm file:font-medium hover:file:bg-slate-50"
          />
        </label>
        <Button type="submit" variant="primary" disabled={!file || uploading}>
          <Upload className="h-4 w-4" aria-hidden="true" /> {uploading ? 'Uploading…' : 'Upload'}
        </Button>
        <span className="text-xs text-slate-500">Text, Markdown or PDF, up to 10 MB.</span>
        {message && (
          <p role={message.ok ? 'status' : 'alert'} className={`w-full text-sm ${message.ok ? 'text-emerald-700' : 'text-rose-700'}`}>
            {message.text}
          </p>
        )}
      </form>
      {docs.error ? (
        <ErrorState error={docs.error} onRetry={() => void docs.refetch()} />
      ) : !docs.data ? (
        <Spinner label="Loading documents" />
      ) : docs.data.length === 0 ? (
        <EmptyState icon={<FileText className="h-6 w-6" />} title="No documents yet">
          Upload what your team knows, and the agents will quote it during calls.
        </EmptyState>
      ) : (
        <ul className="divide-y divide-slate-100 overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm" aria-label="Documents">
          {docs.data.map((d) => (
            <li key={d.id} className="flex items-center gap-3 px-4 py-3">
              <FileText className="h-5 w-5 shrink-0 text-slate-500" aria-hidden="true" />
              <div className="min-w-0 flex-1">
                <div className="font-medium wrap-anywhere text-slate-800">{docName(d)}</div>
                <div className="text-xs wrap-anywhere text-slate-500">
                  {[formatBytes(d.size_bytes), d.chunk_count != null ? `${d.chunk_count} passages` : null, d.source && d.source !== 'upload' ? d.source : null, d.created_at ? formatDateTime(d.created_at) : null]
                    .filter(Boolean)
                    .join(' · ')}
                </div>
              </div>
              <Button variant="ghost" onClick={() => void remove(d)} disabled={deleting === d.id} aria-label={`Delete ${docName(d)}`}>
                <Trash2 className="h-4 w-4" aria-hidden="true" />
              </Button>
            </li>
          ))}
        </ul>
      )}
      <VocabularyEditor />
    </>
  );
}
