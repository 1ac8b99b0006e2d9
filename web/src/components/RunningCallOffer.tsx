import { PhoneOff, Play } from 'lucide-react';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { resumeCall, useCaptureState, useController } from '../lib/live';
import { Button } from './ui';

/** "This call is still running: resume / end" for a call left by a reload or run in another tab. */
export function RunningCallOffer() {
  const controller = useController();
  const { offer, error } = useCaptureState();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  if (!offer) return null;
  const act = async (what: 'resume' | 'end') => {
    setBusy(true);
    navigate('/live');
    try {
      if (what === 'resume') await resumeCall(controller, offer);
      else await controller.endOffered();
    } finally {
      setBusy(false);
    }
  };
  return (
    <div role="alert" className="flex flex-wrap items-center gap-3 border-b border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-900" data-testid="running-call-offer">
      <span className="min-w-0 flex-1 basis-60">
        <strong>This call is still running:</strong> {offer.title || 'untitled call'}.{' '}
        {error?.kind === 'mic-denied' ? (
          <span data-testid="offer-mic-blocked">
            The microphone is blocked: allow it with the icon in the address bar, then press Resume. Nothing said so far is lost.
          </span>
        ) : error?.kind === 'needs-gesture' ? (
          'Press Resume to record again.'
        ) : (
          'Resume it here, or end it to get its summary.'
        )}
      </span>
      <span className="flex gap-2">
        <Button variant="primary" onClick={() => void act('resume')} disabled={busy}>
          <Play className="h-4 w-4" aria-hidden="true" /> Resume
        </Button>
        <Button variant="danger" onClick={() => void act('end')} disabled={busy}>
          <PhoneOff className="h-4 w-4" aria-hidden="true" /> End call
        </Button>
      </span>
    </div>
  );
}
