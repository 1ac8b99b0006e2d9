/** Settings: the workspace's CRM connections (OAuth connect, reconnect, disconnect, auto-sync). */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link2, Unlink } from 'lucide-react';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { afterApi, type CrmStatus } from '../api/after';
import { Badge, Button, Card, ErrorState, PageHeader, Spinner } from '../components/ui';

const STATUS: Record<CrmStatus['status'], { text: string; tone: 'emerald' | 'rose' | 'slate' }> = {
  connected: { text: 'connected', tone: 'emerald' },
  needs_reconnect: { text: 'access revoked: reconnect', tone: 'rose' },
  not_connected: { text: 'not connected', tone: 'slate' },
};

function CrmRow({ crm, onChange }: { crm: CrmStatus; onChange: (list?: CrmStatus[]) => void }) {
  const [error, setError] = useState<string | null>(null);
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      const out = await fn();
      onChange(Array.isArray(out) ? (out as CrmStatus[]) : undefined);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const connect = () =>
    act(async () => {
      const { authorize_url } = await afterApi.connect(crm.provider);
      window.location.assign(authorize_url); // the CRM's consent page; it sends the browser back here
    });
  const status = STATUS[crm.status];
  return (
    <li className="flex flex-col gap-2 py-3" data-testid={`crm-${crm.provider}`}>
      <div className="flex flex-wrap items-center gap-3">
        <span className="w-24 font-medium">{crm.label}</span>
        <Badge tone={status.tone}>{status.text}</Badge>
        {crm.account && <span className="text-sm text-slate-500">{crm.account}</span>}
        <span className="ml-auto flex gap-2">
          {!crm.configured ? (
            <span className="text-sm text-slate-500">not configured on this server (WINGMAN_{crm.provider.toUpperCase()}_CLIENT_ID)</span>
          ) : !crm.can_manage ? (
            <span className="text-sm text-slate-500">only a workspace admin can {crm.status === 'not_connected' ? 'connect' : 'change'} it</span>
          ) : crm.status === 'connected' ? (
            <Button onClick={() => void act(() => afterApi.disconnect(crm.provider))}>
              <Unlink className="h-4 w-4" aria-hidden="true" /> Disconnect
            </Button>
          ) : (
            <Button variant="primary" onClick={() => void connect()}>
              <Link2 className="h-4 w-4" aria-hidden="true" /> {crm.status === 'needs_reconnect' ? 'Reconnect' : 'Connect'} {crm.label}
            </Button>
          )}
        </span>
      </div>
      {crm.status !== 'not_connected' && crm.can_manage && (
        <label className="flex items-center gap-2 text-sm text-slate-600">
          <input type="checkbox" className="h-4 w-4 accent-indigo-600" checked={crm.auto_sync} onChange={(e) => void act(() => afterApi.setAutoSync(crm.provider, e.target.checked))} />
          Write every finished call to {crm.label} automatically
        </label>
      )}
      {crm.status === 'connected' && !crm.can_manage && crm.auto_sync && (
        <p className="text-sm text-slate-600">Every finished call is written to {crm.label} automatically.</p>
      )}
      {error && (
        <p role="alert" className="text-sm text-rose-700">
          {error}
        </p>
      )}
    </li>
  );
}

export function SettingsPage() {
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const crms = useQuery({ queryKey: ['crm'], queryFn: ({ signal }) => afterApi.crms(signal) });
  const result = params.get('result');
  const which = params.get('crm');
  const onChange = (list?: CrmStatus[]) => {
    if (list) queryClient.setQueryData(['crm'], list);
    else void queryClient.invalidateQueries({ queryKey: ['crm'] });
  };
  return (
    <>
      <PageHeader title="Settings" subtitle="Connect your CRM: Wingman writes each call's summary, key moments and action items to it." />
      {result && which && (
        <p role="status" className={`mb-4 rounded-md px-3 py-2 text-sm ${result === 'connected' ? 'bg-emerald-50 text-emerald-800' : 'bg-rose-50 text-rose-800'}`}>
          {result === 'connected' ? `Connected ${which === 'hubspot' ? 'HubSpot' : 'Salesforce'}.` : `Could not connect: ${params.get('reason') ?? 'unknown error'}`}
        </p>
      )}
      <Card title="CRM">
        {crms.error ? (
          <ErrorState error={crms.error} onRetry={() => void crms.refetch()} />
        ) : !crms.data ? (
          <Spinner label="Loading CRM connections" />
        ) : (
          <ul className="divide-y divide-slate-100">
            {crms.data.map((c) => (
              <CrmRow key={c.provider} crm={c} onChange={onChange} />
            ))}
          </ul>
        )}
      </Card>
    </>
  );
}
