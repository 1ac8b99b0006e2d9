"""Synthesize the names test set: short sales utterances full of brand names, several voices.

Outputs (committed, so nothing is synthesized at run time), in tests/fixtures/names/:
  nNN_<voice>.wav     16 kHz s16 mono, 0.4 s of quiet line before and after the speech
  names.json          per clip: file, voice, text, the canonical names it mentions ([] for the
                      distractors: ordinary words that sound like names, which must match none)

Every clip is one utterance in one voice; the voices rotate so each name is heard in more than
one. The set is small on purpose (a few MB; decoding it with Whisper takes seconds): it feeds
bench/names.py (name recall and WER per speech strategy) and tests/integration/test_names*.py.

Run: .venv/bin/python scripts/make_names_audio.py  (needs Debian's espeak-ng; soxr from the venv)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_demo_audio import NOISE_STD, RATE, synth_turn, write_wav  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "names"
PAD_S = 0.4
VOICES = ["en-us+m3", "en-us+f4", "en-gb+m5", "en-gb-x-rp+f2"]

# (text, names). Names are the demo company's (Relay), its competitors and integrations, plus
# Talkdesk: the competitor whose battlecard the tests upload (tests/fixtures/names/).
CLIPS: list[tuple[str, list[str]]] = [
    ("We're also talking to Aircall about their pricing.", ["Aircall"]),
    ("Aircall quoted us twenty five dollars a seat.", ["Aircall"]),
    ("Our team tried Dialpad last year and it was fine.", ["Dialpad"]),
    ("How is Relay different from Dialpad?", ["Relay", "Dialpad"]),
    ("We already use RingCentral for the rest of the company.", ["RingCentral"]),
    ("Can you move our numbers off RingCentral?", ["RingCentral"]),
    ("Does Relay log every call to HubSpot?", ["Relay", "HubSpot"]),
    ("Our marketing team lives in HubSpot.", ["HubSpot"]),
    ("We need every call logged in Salesforce.", ["Salesforce"]),
    ("Gong records all of our sales calls today.", ["Gong"]),
    ("Our support tickets are all in Zendesk.", ["Zendesk"]),
    ("We moved from Freshdesk to Zendesk last spring.", ["Freshdesk", "Zendesk"]),
    ("We're also evaluating Talkdesk for the contact center.", ["Talkdesk"]),
    ("Talkdesk offered us a three month pilot.", ["Talkdesk"]),
    ("Why would we pick Relay over Talkdesk?", ["Relay", "Talkdesk"]),
    ("Do you have an app for Microsoft Teams?", ["Microsoft Teams"]),
    ("Our chat widget runs on Intercom.", ["Intercom"]),
    ("We connect everything with Zapier and Slack.", ["Zapier", "Slack"]),
    ("We looked at Aircall and RingCentral before you.", ["Aircall", "RingCentral"]),
    ("Honestly Talkdesk and Dialpad both came in cheaper.", ["Talkdesk", "Dialpad"]),
    # distractors: ordinary words close to names
    ("We ring customers back when they miss a call.", []),
    ("The central team handles all of the escalations.", []),
    ("Our sales force is about forty people.", []),
    ("We talked about the desk setup for the new office.", []),
    ("Please call me back after lunch, I'm in the air all morning.", []),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(13)
    pad = np.zeros(round(PAD_S * RATE), dtype=np.float32)
    items = []
    for i, (text, names) in enumerate(CLIPS, start=1):
        voice = VOICES[(i - 1) % len(VOICES)]
        clip = synth_turn(text, voice, RATE)
        x = np.concatenate([pad, clip, pad])
        x += (rng.standard_normal(len(x)) * NOISE_STD).astype(np.float32)
        name = f"n{i:02d}_{voice.replace('+', '_').replace('-', '')}.wav"
        write_wav(OUT / name, x, RATE)
        items.append({"file": name, "voice": voice, "text": text, "names": names})
    meta = {"sample_rate": RATE, "voices": VOICES, "pad_seconds": PAD_S, "items": items}
    (OUT / "names.json").write_text(json.dumps(meta, indent=2) + "\n")
    size = sum(p.stat().st_size for p in OUT.glob("*.wav"))
    print(f"{len(items)} clips, {size / 1e6:.1f} MB in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
