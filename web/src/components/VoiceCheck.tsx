import { Loader2, Mic, UserCheck } from 'lucide-react';
import { useEffect, useState } from 'react';
import { api, type Voiceprint } from '../api/client';
import { encodeWav } from '../audio/wav';

const SECONDS = 8;
const SENTENCE =
  'Hi, this is your sales rep. I am reading this sentence so that Wingman knows my voice, and can tell me apart from the customer on calls with one microphone.';

/** Records `seconds` of the microphone as mono float samples. */
async function record(seconds: number): Promise<{ samples: Float32Array; rate: number }> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
  const ctx = new AudioContext();
  const source = ctx.createMediaStreamSource(stream);
  // a ScriptProcessor is enough for a one-off few seconds (the live call uses a worklet)
  const node = ctx.createScriptProcessor(4096, 1, 1);
  const parts: Float32Array[] = [];
  node.onaudioprocess = (e) => parts.push(new Float32Array(e.inputBuffer.getChannelData(0)));
  source.connect(node);
  node.connect(ctx.destination);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  node.disconnect();
  source.disconnect();
  stream.getTracks().forEach((t) => t.stop());
  const rate = ctx.sampleRate;
  await ctx.close();
  const samples = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    samples.set(p, at);
    at += p.length;
  }
  return { samples, rate };
}

/** The voice check on the live page: once per user, so one-channel calls know the rep's voice. */
export function VoiceCheck() {
  const [print, setPrint] = useState<Voiceprint | null>(null);
  const [state, setState] = useState<'idle' | 'recording' | 'saving'>('idle');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const ctl = new AbortController();
    api.voiceprint(ctl.signal).then(setPrint, () => undefined);
    return () => ctl.abort();
  }, []);

  async function check() {
    setError(null);
    try {
      setState('recording');
      const { samples, rate } = await record(SECONDS);
      setState('saving');
      setPrint(await api.enrollVoice(encodeWav(samples, rate)));
    } catch (e) {
      setError(e instanceof Error ? e.message : 'The voice check failed.');
    } finally {
      setState('idle');
    }
  }

  if (print === null) return null;
  if (print.enrolled) {
    return (
      <p className="mb-4 flex items-center gap-2 text-xs text-slate-500" data-testid="voice-enrolled">
        <UserCheck className="h-4 w-4 text-emerald-600" aria-hidden="true" />
        Wingman knows your voice: on calls with only your microphone it tells you from the customer.
        <button type="button" className="underline" onClick={() => void check()} disabled={state !== 'idle'}>
          Redo the voice check
        </button>
      </p>
    );
  }
  return (
    <div className="mb-6 rounded-lg border border-indigo-200 bg-indigo-50 p-4 text-sm text-indigo-900" data-testid="voice-check">
      <p className="font-medium">Voice check (once): so Wingman can tell you from the customer on one microphone</p>
      <p className="mt-1">Press the button and read aloud, alone, for {SECONDS} seconds:</p>
      <blockquote className="my-2 border-l-2 border-indigo-300 pl-3 italic">{SENTENCE}</blockquote>
      <button
        type="button"
        onClick={() => void check()}
        disabled={state !== 'idle'}
        className="inline-flex items-center gap-2 rounded-md bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700 disabled:opacity-60"
      >
        {state === 'idle' ? <Mic className="h-4 w-4" aria-hidden="true" /> : <Loader2 className="h-4 w-4 animate-spin" aria-hidden="true" />}
        {state === 'recording' ? 'Recording… keep reading' : state === 'saving' ? 'Saving…' : 'Start the voice check'}
      </button>
      <p className="mt-2 text-xs text-indigo-700">
        Without it, the first voice heard on a one-channel call is taken as yours. Calls that capture the customer's tab
        (two channels) need no voice check.
      </p>
      {error && (
        <p role="alert" className="mt-2 text-rose-700">
          {error}
        </p>
      )}
    </div>
  );
}
