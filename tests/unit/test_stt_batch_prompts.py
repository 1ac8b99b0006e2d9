"""Sharing a batch's generate call (wingman.stt.batch.prompt_groups): requests whose prompts differ
by a few tokens of old context are decoded in one call, without their oldest context tokens;
the glossary, the newest context and prompts that may not be shortened are kept whole."""

from __future__ import annotations

import numpy as np

from wingman.stt.batch import MAX_TRIM, Request, prompt_groups

SOT_PREV, SOT, NO_TS = 1, 2, 3
SUPPRESS = (9,)


def request(
    glossary: int, said: int, *, shareable: bool = True, suppress: tuple[int, ...] = SUPPRESS
) -> Request:
    """A prompt of `glossary` head tokens (100+) and `said` context tokens (200+, oldest first)."""
    previous = [100 + k for k in range(glossary)] + [200 + k for k in range(said)]
    tokens = ([SOT_PREV, *previous] if previous else []) + [SOT, NO_TS]
    context = (1 + glossary, 1 + len(previous)) if shareable and previous else (0, 0)
    return Request(np.zeros(16000, dtype=np.float32), tuple(tokens), suppress, None, True, context)


def test_prompts_a_few_tokens_apart_share_one_call_without_their_oldest_context() -> None:
    reqs = [request(10, 36), request(10, 30), request(10, 33)]
    groups = prompt_groups(reqs)
    assert list(groups.values()) == [[0, 1, 2]]  # in batch order (the encoder output's rows)
    (size, suppress), = groups
    assert size == len(reqs[1].tokens) and suppress == SUPPRESS
    longest = reqs[0].shortened(size)
    assert len(longest) == size
    assert longest[:11] == reqs[0].tokens[:11]  # <|startofprev|> and the glossary, whole
    assert longest[11:-2] == tuple(range(206, 236))  # the 6 oldest context tokens dropped
    assert longest[-2:] == (SOT, NO_TS)
    assert reqs[1].shortened(size) == reqs[1].tokens


def test_a_prompt_loses_at_most_a_third_of_its_context_and_max_trim_tokens() -> None:
    assert request(0, 60).shortest() == len(request(0, 60).tokens) - MAX_TRIM
    assert request(5, 9).shortest() == len(request(5, 9).tokens) - 3
    # 60 context tokens against 60 - MAX_TRIM - 1: two calls; 9 against 5: two calls
    assert len(prompt_groups([request(0, 60), request(0, 60 - MAX_TRIM - 1)])) == 2
    assert len(prompt_groups([request(5, 9), request(5, 5)])) == 2
    assert len(prompt_groups([request(5, 9), request(5, 6)])) == 1


def test_prompts_that_may_not_be_shortened_and_other_suppressions_keep_their_own_call() -> None:
    whole = request(10, 36, shareable=False)
    groups = prompt_groups([whole, request(10, 30), request(0, 0), request(10, 36, suppress=(8,))])
    assert sorted(groups.values()) == [[0], [1], [2], [3]]
    assert whole.shortest() == len(whole.tokens)
    assert prompt_groups([request(10, 36)]) == {(len(request(10, 36).tokens), SUPPRESS): [0]}
