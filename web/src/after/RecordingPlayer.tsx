/**
 * The call's recording on the call page: an audio player in sync with the transcript. Clicking
 * (or Enter on) a transcript line plays the call from that line; while it plays, the line being
 * spoken is marked (aria-current) and named under the player. The audio is fetched by the
 * browser's own player with HTTP Range requests from a short-lived signed link, renewed when
 * it runs out. Nothing is shown for a call that was not recorded.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Headphones, Trash2 } from 'lucide-react';
import { useCallback, useEffect, useRef, useState } from 'react';
import { afterApi, type Recording } from '../api/after';
import type { TranscriptSegment } from '../api/types';
import { Button, Card } from '../components/ui';
import { formatDateTime } from '../lib/format';
import { clock, speakerLabel } from '../realtime/transcript';

const MARK = ['ring-2', 'ring-indigo-300', 'bg-indigo-50'];
const LINE_PREFIX = 'seg-';

/** The line being spoken at `at` seconds: the last one started by then, if not over long ago. */
export function lineAt(segments: readonly TranscriptSegment[], at: number): TranscriptSegment | null {
  let best: TranscriptSegment | null = null;
  for (const s of segments) {
    if (s.start <= at + 0.05 && (!best || s.start >= best.start)) best = s;
  }
  return best && at <= best.end + 1.0 ? best : null;
}

function recordingKey(callId: string) {
  return ['recording', callId] as const;
}

function statusText(r: Recording): string {
  switch (r.status) {
    case 'recording':
      return 'The call is being recorded.';
    case 'processing':
      return 'The recording is being prepared…';
    case 'failed':
      return 'The recording could not be prepared.';
    case 'deleted':
      return r.deleted_reason === 'retention' ? "The recording was deleted at the end of the workspace's retention period." : 'The recording was deleted.';
    default:
      return '';
  }
}

export function RecordingPlayer({ callId, segments }: { callId: string; segments: readonly TranscriptSegment[] }) {
  const queryClient = useQueryClient();
  const recording = useQuery({
    queryKey: recordingKey(callId),
    queryFn: ({ signal }) => afterApi.recording(callId, signal),
    refetchInterval: (q) => (q.state.data?.status === 'processing' || q.state.data?.status === 'recording' ? 2000 : false),
  });
  const audio = useRef<HTMLAudioElement>(null);
  const resumeAt = useRef<number | null>(null);
  const marked = useRef<HTMLElement | null>(null);
  const [current, setCurrent] = useState<TranscriptSegment | null>(null);
  const [error, setError] = useState<string | null>(null);
  const r = recording.data;
  const ready = r?.status === 'ready' && !!r.url;

  const mark = useCallback((seg: TranscriptSegment | null) => {
    const el = seg ? document.getElementById(`${LINE_PREFIX}${seg.id}`) : null;
    if (marked.current && marked.current !== el) {
      marked.current.classList.remove(...MARK);
      marked.current.removeAttribute('aria-current');
    }
    if (el) {
      el.classList.add(...MARK); // re-added on every tick: a re-render of the transcript may drop it
      el.setAttribute('aria-current', 'true');
    }
    marked.current = el;
    setCurrent(seg);
  }, []);

  const playFrom = useCallback((seg: TranscriptSegment) => {
    const el = audio.current;
    if (!el) return;
    el.currentTime = seg.start;
    mark(seg);
    el.play().catch(() => undefined); // a refused autoplay leaves the player paused at the line
  }, [mark]);

  // a click (or Enter) on a transcript line plays the call from that line
  useEffect(() => {
    if (!ready) return;
    const byId = new Map(segments.map((s) => [s.id, s]));
    const lineOf = (target: EventTarget | null) => {
      const li = target instanceof Element ? target.closest(`li[id^="${LINE_PREFIX}"]`) : null;
      return li ? byId.get(li.id.slice(LINE_PREFIX.length)) : undefined;
    };
    const onClick = (e: MouseEvent) => {
      const seg = lineOf(e.target);
      if (seg && !window.getSelection()?.toString()) playFrom(seg);
    };
    const onKey = (e: KeyboardEvent) => {
      const seg = e.key === 'Enter' ? lineOf(e.target) : undefined;
      if (seg) playFrom(seg);
    };
    const lines = segments.map((s) => document.getElementById(`${LINE_PREFIX}${s.id}`)).filter((el): el is HTMLElement => !!el);
    for (const el of lines) {
      el.classList.add('cursor-pointer');
      el.title = 'Play from here';
    }
    document.addEventListener('click', onClick);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('click', onClick);
      document.removeEventListener('keydown', onKey);
      for (const el of lines) el.classList.remove('cursor-pointer');
      mark(null);
    };
  }, [ready, segments, playFrom, mark]);

  if (!r || r.status === 'not_recorded') return null;

  const onError = () => {
    // the signed link ran out (or the network dropped): get a new one and go on where it was
    const el = audio.current;
    if (!el || !el.error) return;
    resumeAt.current = el.currentTime;
    void queryClient.invalidateQueries({ queryKey: recordingKey(callId) });
  };
  const remove = async () => {
    if (!window.confirm('Delete this recording for good? The transcript stays.')) return;
    setError(null);
    try {
      await afterApi.deleteRecording(callId);
      await queryClient.invalidateQueries({ queryKey: recordingKey(callId) });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <Card
      title={
        <span className="flex items-center gap-1.5">
          <Headphones className="h-4 w-4" aria-hidden="true" /> Recording
        </span>
      }
      actions={
        r.can_delete && (
          <Button variant="ghost" onClick={() => void remove()} aria-label="Delete the recording">
            <Trash2 className="h-4 w-4" aria-hidden="true" /> Delete
          </Button>
        )
      }
    >
      {ready ? (
        <div className="flex flex-col gap-2">
          <audio
            ref={audio}
            controls
            preload="metadata"
            src={r.url ?? undefined}
            className="w-full"
            data-testid="recording-audio"
            aria-label="Call recording"
            onTimeUpdate={(e) => mark(lineAt(segments, e.currentTarget.currentTime))}
            onLoadedMetadata={(e) => {
              if (resumeAt.current !== null) e.currentTarget.currentTime = resumeAt.current;
              resumeAt.current = null;
            }}
            onError={onError}
          />
          <p className="min-h-5 text-sm text-slate-600" aria-live="polite" data-testid="recording-now">
            {current ? (
              <>
                <span className="tabular-nums text-slate-500">{clock(current.start)}</span> <span className="font-medium">{speakerLabel(current.speaker)}:</span> {current.text}
              </>
            ) : (
              'Click a line of the transcript to play the call from there.'
            )}
          </p>
          {r.deletes_at && <p className="text-xs text-slate-500">Deleted automatically on {formatDateTime(r.deletes_at)} (the workspace's retention).</p>}
        </div>
      ) : (
        <p className="text-sm text-slate-600" data-testid="recording-status">
          {statusText(r)}
        </p>
      )}
      {error && (
        <p role="alert" className="mt-2 text-sm text-rose-700">
          {error}
        </p>
      )}
    </Card>
  );
}

export default RecordingPlayer;
