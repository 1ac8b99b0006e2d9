/** The company profile (name, what it sells, products, competitors, pricing notes) that every
 * tip, answer, summary and search query reads, and the sample company to try Wingman with. */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { request } from '../api/client';
import { Button, Card, ErrorState, PageHeader, Spinner } from '../components/ui';

interface Competitor {
  name: string;
  battlecard: string | null;
}
interface Profile {
  name: string;
  sells: string;
  products: string[];
  competitors: Competitor[];
  pricing_notes: string;
}
interface ProfileOut {
  profile: Profile | null;
  source: 'user' | 'sample' | null;
}
interface SampleOut {
  loaded: boolean;
}

const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);
const field = 'mt-1 w-full rounded-md border border-slate-300 px-3 py-2 text-sm';

export function ProfilePage() {
  const queries = useQueryClient();
  const profile = useQuery({ queryKey: ['profile'], queryFn: ({ signal }) => request<ProfileOut>('/api/profile', { signal }) });
  const sample = useQuery({ queryKey: ['sample'], queryFn: ({ signal }) => request<SampleOut>('/api/sample', { signal }) });
  const [name, setName] = useState('');
  const [sells, setSells] = useState('');
  const [products, setProducts] = useState('');
  const [competitors, setCompetitors] = useState('');
  const [pricing, setPricing] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const p = profile.data?.profile;
    if (!p) return;
    setName(p.name);
    setSells(p.sells);
    setProducts(p.products.join(', '));
    setCompetitors(p.competitors.map((c) => c.name).join(', '));
    setPricing(p.pricing_notes);
  }, [profile.data]);

  const run = async (what: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setMessage(null);
    try {
      await what();
      setMessage(done);
      await Promise.all(['profile', 'sample', 'knowledge'].map((k) => queries.invalidateQueries({ queryKey: [k] })));
    } catch (e) {
      setMessage(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const save = () => {
    const old = new Map((profile.data?.profile?.competitors ?? []).map((c) => [c.name, c.battlecard]));
    const body = {
      name: name.trim(),
      sells,
      products: list(products),
      competitors: list(competitors).map((n) => ({ name: n, battlecard: old.get(n) ?? null })),
      pricing_notes: pricing,
    };
    return run(() => request<ProfileOut>('/api/profile', { method: 'PUT', json: body }), 'Profile saved.');
  };

  if (profile.isPending) return <Spinner />;
  if (profile.error) return <ErrorState error={profile.error} onRetry={() => void profile.refetch()} />;
  return (
    <div className="space-y-6">
      <PageHeader title="Company profile" subtitle="What your company sells and who you compete with: every tip, answer and summary reads it." />
      <Card title="Your company">
        <form className="grid gap-4" onSubmit={(e) => { e.preventDefault(); void save(); }}>
          <label className="text-sm font-medium">Company name
            <input className={field} value={name} onChange={(e) => setName(e.target.value)} required maxLength={120} />
          </label>
          <label className="text-sm font-medium">What you sell
            <textarea className={field} rows={3} value={sells} onChange={(e) => setSells(e.target.value)} />
          </label>
          <label className="text-sm font-medium">Products (comma-separated)
            <input className={field} value={products} onChange={(e) => setProducts(e.target.value)} />
          </label>
          <label className="text-sm font-medium">Competitors (comma-separated)
            <input className={field} value={competitors} onChange={(e) => setCompetitors(e.target.value)} />
          </label>
          <label className="text-sm font-medium">Pricing notes reps may use (plans, pilot, discounts)
            <textarea className={field} rows={2} value={pricing} onChange={(e) => setPricing(e.target.value)} />
          </label>
          <div><Button type="submit" variant="primary" disabled={busy || !name.trim()}>Save profile</Button></div>
        </form>
      </Card>
      <Card title="Sample data">
        <p className="mb-3 text-sm text-slate-700">
          Try Wingman with a made-up company: its profile (unless you wrote your own) and its documents. Removing it takes them all away; yours stay.
        </p>
        {sample.data?.loaded ? (
          <Button disabled={busy} onClick={() => void run(() => request<SampleOut>('/api/sample', { method: 'DELETE' }), 'Sample data removed.')}>Remove sample data</Button>
        ) : (
          <Button disabled={busy} onClick={() => void run(() => request<SampleOut>('/api/sample', { method: 'POST' }), 'Sample data loaded.')}>Try with sample data</Button>
        )}
      </Card>
      {message && <p role="status" className="text-sm text-slate-700">{message}</p>}
    </div>
  );
}
