import { AlertTriangle, CloudOff, Radio, ShieldAlert } from 'lucide-react';
import type { ProviderStatusEvent } from '../api/types';
import type { Connection } from '../realtime/session';

/** Connection trouble and degraded providers, shown above every page. */
export function StatusBanners({
  connection,
  connectionMessage,
  everConnected,
  providers,
}: {
  connection: Connection;
  connectionMessage: string | null;
  everConnected: boolean;
  providers: Record<string, ProviderStatusEvent>;
}) {
  const degraded = Object.values(providers).filter((p) => p.degraded);
  const showConn = connection === 'reconnecting' || connection === 'rejected' || (connection === 'connecting' && connectionMessage !== null && !everConnected);
  return (
    <>
      {showConn && (
        <div role="alert" className="flex items-center gap-2 border-b border-amber-200 bg-amber-50 px-4 py-2 text-sm text-amber-900">
          {connection === 'rejected' ? <ShieldAlert className="h-4 w-4" aria-hidden="true" /> : <CloudOff className="h-4 w-4" aria-hidden="true" />}
          {connection === 'rejected' ? (
            <span>The server refused the real-time connection{connectionMessage ? `: ${connectionMessage}` : ''}. Sign in again.</span>
          ) : (
            <span>
              Server unreachable — <strong>reconnecting…</strong> Audio is held and sent when the connection is back.
            </span>
          )}
        </div>
      )}
      {degraded.map((p) => (
        <div key={p.part} role="status" className="flex items-center gap-2 border-b border-sky-200 bg-sky-50 px-4 py-2 text-sm text-sky-900" data-testid="degraded-banner">
          <AlertTriangle className="h-4 w-4" aria-hidden="true" />
          <span>
            <strong>
              {partLabel(p.part)} degraded: using {!p.provider || p.provider === 'local' ? 'local engine' : p.provider}
            </strong>
            {p.message ? ` — ${p.message}` : ''}
          </span>
        </div>
      ))}
    </>
  );
}

function partLabel(part: string): string {
  const labels: Record<string, string> = { stt: 'Speech-to-text', llm: 'AI reasoning', search: 'Web search' };
  return labels[part] ?? part;
}

export function LiveCallPill({ title, onOpen }: { title: string; onOpen: () => void }) {
  return (
    <button
      type="button"
      onClick={onOpen}
      className="flex items-center gap-2 rounded-full bg-rose-600 px-3 py-1 text-xs font-semibold text-white shadow hover:bg-rose-700"
    >
      <Radio className="h-3.5 w-3.5 animate-pulse" aria-hidden="true" />
      Live: {title || 'call'} — open
    </button>
  );
}
