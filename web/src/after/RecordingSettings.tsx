/**
 * Settings: whether the workspace records its calls (opt-in) and how long it keeps them.
 * Admins turn it on only after confirming that everyone on a recorded call is told so; other
 * members see the choice and who can change it.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { afterApi, type RecordingSettings as Choice } from '../api/after';
import { Button, Card, ErrorState, Spinner } from '../components/ui';

const KEY = ['recording-settings'] as const;

function Form({ saved, onSaved }: { saved: Choice; onSaved: (c: Choice) => void }) {
  const [enabled, setEnabled] = useState(saved.enabled);
  const [consent, setConsent] = useState(saved.enabled);
  const [days, setDays] = useState(saved.retention_days === null ? '' : String(saved.retention_days));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const retention = days.trim() === '' ? null : Number(days);
  const badDays = retention !== null && (!Number.isInteger(retention) || retention < 1 || retention > 3650);
  const save = async () => {
    setError(null);
    setBusy(true);
    try {
      onSaved(await afterApi.saveRecordingSettings({ enabled, retention_days: retention, consent_confirmed: consent }));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      className="flex flex-col gap-3 text-sm"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <label className="flex items-center gap-2">
        <input type="checkbox" className="h-4 w-4 accent-indigo-600" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        Record calls (played back on each call page, in sync with the transcript)
      </label>
      {enabled && (
        <label className="flex items-start gap-2">
          <input type="checkbox" className="mt-0.5 h-4 w-4 accent-indigo-600" checked={consent} onChange={(e) => setConsent(e.target.checked)} />
          <span>Everyone on a recorded call is told that it is recorded (many places require their consent).</span>
        </label>
      )}
      <label className="flex flex-wrap items-center gap-2">
        Delete recordings after
        <input
          type="number"
          min={1}
          max={3650}
          inputMode="numeric"
          value={days}
          onChange={(e) => setDays(e.target.value)}
          aria-label="Retention in days"
          aria-invalid={badDays}
          placeholder="never"
          className="w-24 rounded-md border border-slate-300 px-2 py-1"
        />
        days (empty: keep them as long as the call)
      </label>
      {badDays && <p className="text-rose-700">Retention is a whole number of days from 1 to 3650.</p>}
      <div>
        <Button type="submit" variant="primary" disabled={busy || badDays || (enabled && !consent)}>
          Save
        </Button>
      </div>
      {error && (
        <p role="alert" className="text-rose-700">
          {error}
        </p>
      )}
    </form>
  );
}

export function RecordingSettingsCard() {
  const queryClient = useQueryClient();
  const choice = useQuery({ queryKey: KEY, queryFn: ({ signal }) => afterApi.recordingSettings(signal) });
  const c = choice.data;
  return (
    <Card title="Call recording" className="mt-6">
      {choice.error ? (
        <ErrorState error={choice.error} onRetry={() => void choice.refetch()} />
      ) : !c ? (
        <Spinner label="Loading the recording settings" />
      ) : c.can_manage ? (
        <Form key={c.updated_at ?? 'never'} saved={c} onSaved={(next) => queryClient.setQueryData(KEY, next)} />
      ) : (
        <p className="text-sm text-slate-600" data-testid="recording-choice">
          {c.enabled ? `Calls are recorded${c.retention_days ? ` and kept ${c.retention_days} days` : ''}.` : 'Calls are not recorded.'} Only a workspace admin can change it.
        </p>
      )}
    </Card>
  );
}
