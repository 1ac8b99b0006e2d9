/**
 * The live-call page's "this call is recorded" notice: shown while a call is live when the
 * workspace records its calls (recording is opt-in per workspace, in Settings), so the rep can
 * tell the customer.
 */
import { useQuery } from '@tanstack/react-query';
import { Disc } from 'lucide-react';
import { afterApi } from '../api/after';

export function RecordedNotice({ live }: { live: boolean }) {
  const choice = useQuery({
    queryKey: ['recording-settings'],
    queryFn: ({ signal }) => afterApi.recordingSettings(signal),
    enabled: live,
  });
  if (!live || !choice.data?.enabled) return null;
  const kept = choice.data.retention_days ? ` and kept ${choice.data.retention_days} days` : '';
  return (
    <p role="status" data-testid="recorded-notice" className="mb-4 flex items-center gap-2 rounded-md bg-rose-50 px-3 py-2 text-sm font-medium text-rose-900">
      <Disc className="h-4 w-4 text-rose-600" aria-hidden="true" />
      This call is recorded{kept}: tell everyone on the call.
    </p>
  );
}
