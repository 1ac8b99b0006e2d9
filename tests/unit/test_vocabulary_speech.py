"""Speech biasing with a tenant's vocabulary: the local engine's glossary prompt (bounded in
Whisper tokens, most relevant first) and Deepgram's keyterm / keywords query parameters (within
Deepgram's documented limits: 100 keyterms and 500 tokens for Nova-3; single-word keywords)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from tokenizers import Tokenizer

from tests.unit.test_vocabulary import sample_knowledge
from wingman.sample import sample_profile
from wingman.settings import Settings
from wingman.stt.deepgram_wire import (
    MAX_KEYTERM_TOKENS,
    MAX_KEYTERMS,
    MAX_KEYWORDS,
    approx_tokens,
    listen_url,
)
from wingman.stt.whisper import (
    GLOSSARY_HEAD,
    MAX_GLOSSARY_TOKENS,
    glossary_prompt,
    glossary_tokens,
    model_dir,
)
from wingman.vocabulary import MAX_TERMS, build_vocabulary, playbook_terms


@cache
def whisper_tokens() -> Tokenizer:
    return Tokenizer.from_file(str(model_dir("tiny.en", data_dir=Path("data")) / "tokenizer.json"))


def count(text: str) -> int:
    return len(whisper_tokens().encode(text, add_special_tokens=False).ids)


def demo_vocabulary(user_terms: tuple[str, ...] = (), more_competitors: int = 0) -> tuple[str, ...]:
    return build_vocabulary(
        user_terms=user_terms,
        competitors=[*sample_profile().competitor_names, *(f"Rival{i}" for i in range(more_competitors))],
        knowledge=sample_knowledge(),
        playbook=playbook_terms(Settings().effective_playbook_path),
    ).texts


def big_vocabulary() -> tuple[str, ...]:
    """A tenant at the bound: its own 50 terms, some long, then many competitors and the rest."""
    own = tuple(f"Product Line Number {i} Extended Edition" for i in range(25))
    own += tuple(f"Vendor{i}" for i in range(25))
    vocabulary = demo_vocabulary(own, more_competitors=40)
    assert len(vocabulary) == MAX_TERMS
    return vocabulary


def test_glossary_prompt_is_a_sentence_of_the_most_relevant_names() -> None:
    prompt = glossary_prompt(demo_vocabulary())
    assert prompt is not None and prompt.startswith(f"{GLOSSARY_HEAD} Relay, Aircall, Dialpad, RingCentral")
    assert prompt.endswith(".") and " and " in prompt
    assert glossary_prompt(["Relay"]) == f"{GLOSSARY_HEAD} Relay."
    assert glossary_prompt(["", "  "]) is None


def test_glossary_prompt_is_bounded_in_real_whisper_tokens() -> None:
    for vocabulary in (demo_vocabulary(), big_vocabulary(), tuple(f"Term{i:03d}" for i in range(100))):
        prompt = glossary_prompt(vocabulary)
        assert prompt is not None
        names = prompt.removeprefix(GLOSSARY_HEAD)
        assert count(names) <= MAX_GLOSSARY_TOKENS
        assert count(" " + prompt) <= MAX_GLOSSARY_TOKENS + count(" " + GLOSSARY_HEAD)


def test_glossary_estimate_is_conservative_for_names() -> None:
    for term in (*demo_vocabulary(), "Talkdesk", "Five9", "Genesys", "Nextiva", "Łódź", "日本語"):
        assert glossary_tokens(term) >= count(", " + term), term


def test_glossary_prompt_keeps_the_ranking_when_the_budget_runs_out() -> None:
    prompt = glossary_prompt(["Alpha", "A" * 300, "Beta"], max_tokens=20)
    assert prompt == f"{GLOSSARY_HEAD} Alpha."  # a shorter, less relevant term never jumps ahead


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def _url(model: str, vocabulary: tuple[str, ...]) -> str:
    return listen_url("wss://api.deepgram.com/v1/listen", model=model, sample_rate=16000, channels=2,
                      language="en", endpointing_ms=300, utterance_end_ms=1000, vocabulary=vocabulary)


def test_deepgram_nova3_gets_the_vocabulary_as_keyterms_in_order() -> None:
    vocabulary = demo_vocabulary()
    keyterms = [v for k, v in _query(_url("nova-3", vocabulary)) if k == "keyterm"]
    assert keyterms == list(vocabulary)  # the demo vocabulary fits whole, ranking kept
    assert ("keywords", "Relay") not in _query(_url("nova-3", vocabulary))


def test_deepgram_keyterms_stay_within_the_documented_limits() -> None:
    vocabulary = big_vocabulary()
    keyterms = [v for k, v in _query(_url("nova-3", vocabulary)) if k == "keyterm"]
    assert 0 < len(keyterms) <= MAX_KEYTERMS
    assert sum(approx_tokens(t) for t in keyterms) <= MAX_KEYTERM_TOKENS
    assert keyterms[0] == vocabulary[0] and keyterms == [t for t in vocabulary if t in keyterms]


def test_deepgram_older_models_get_single_word_keywords() -> None:
    vocabulary = big_vocabulary()
    keywords = [v for k, v in _query(_url("nova-2", vocabulary)) if k == "keywords"]
    assert keywords and len(keywords) <= MAX_KEYWORDS
    assert all(" " not in w for w in keywords)
    assert "Relay" in keywords and "Microsoft Teams" not in keywords
    assert not [v for k, v in _query(_url("nova-2", vocabulary)) if k == "keyterm"]
