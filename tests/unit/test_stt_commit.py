"""The streaming commit policy on scripted decodes (wingman.stt.commit): no model loaded."""

from __future__ import annotations

from wingman.stt.commit import Agreement, CommitPolicy, agreed_prefix, ends_sentence, strip_repeat
from wingman.stt.whisper import Word, drop_loops


def words(text: str, start: float = 0.0, step: float = 0.3, prob: float = 0.95) -> tuple[Word, ...]:
    """Words `step` seconds apart from `start`, each 0.25 s long."""
    return tuple(
        Word(t, round(start + i * step, 3), round(start + i * step + 0.25, 3), prob)
        for i, t in enumerate(text.split())
    )


def test_commits_the_sentence_two_decodes_agree_on_and_keeps_the_rest() -> None:
    a = Agreement()
    assert (
        a.update(words("Do you integrate with HubSpot? We"), seg_start=0, audio_end=1.9, at_pause=False)
        is None
    )
    commit = a.update(
        words("Do you integrate with HubSpot? We use it"), seg_start=0, audio_end=2.5, at_pause=False
    )
    assert commit is not None and commit.rule == "sentence"
    assert " ".join(w.text for w in commit.words) == "Do you integrate with HubSpot?"
    assert [w.text for w in commit.rest] == ["We", "use", "it"]
    assert commit.cut_from == commit.words[-1].end and commit.cut_to == commit.rest[0].start


def test_a_period_where_the_audio_stops_is_no_sentence_end() -> None:
    a = Agreement()
    # Whisper ends every decode with a period; two decodes that both stop there agree on nothing
    assert a.update(words("We use HubSpot."), seg_start=0, audio_end=1.0, at_pause=False) is None
    assert a.update(words("We use HubSpot."), seg_start=0, audio_end=1.1, at_pause=False) is None
    # ... and a disagreement stops the agreed prefix before the mark
    assert a.update(words("We use HubSpot for that."), seg_start=0, audio_end=1.8, at_pause=False) is None


def test_a_pause_after_a_sentence_commits_at_once_unless_short_or_cut_off() -> None:
    a = Agreement()
    commit = a.update(words("Our calls drop a few times a day."), seg_start=0, audio_end=2.6, at_pause=True)
    assert commit is not None and commit.rule == "pause" and len(commit.words) == 8 and not commit.rest
    assert commit.cut_from == commit.cut_to == 2.6
    # a short phrase waits for what follows
    assert Agreement().update(words("Yes."), seg_start=0, audio_end=0.6, at_pause=True) is None
    # a last word that runs into the end of the audio, decoded with doubt: maybe cut in the middle
    cut_off = words("he might have been made still more risk.")
    cut_off = (*cut_off[:-1], Word("risk.", cut_off[-1].start, 2.5, 0.6))
    assert Agreement().update(cut_off, seg_start=0, audio_end=2.5, at_pause=True) is None


def test_caps_keep_finals_short_even_without_punctuation() -> None:
    policy = CommitPolicy(soft_cap_s=3.0, hard_cap_s=4.0)
    a = Agreement(policy)
    text = "so we looked at a few vendors last year, and none of them had what we needed for"
    a.update(words(text), seg_start=0, audio_end=3.2, at_pause=False)
    commit = a.update(words(text + " support"), seg_start=0, audio_end=3.5, at_pause=False)
    assert commit is not None and commit.rule == "soft_cap" and commit.words[-1].text == "year,"
    # past the hard cap with no agreement: nothing yet; past the last resort, everything but
    # the (maybe cut) last word
    b = Agreement(CommitPolicy(soft_cap_s=3.0, hard_cap_s=4.0, last_resort_s=4.5))
    assert b.update(words("one two three four five six"), seg_start=0, audio_end=4.2, at_pause=False) is None
    commit = b.update(words("won too tree for five six"), seg_start=0, audio_end=4.6, at_pause=False)
    assert commit is not None and commit.rule == "last_resort"
    assert [w.text for w in commit.words] == ["won", "too", "tree", "for", "five"]


def test_the_hard_cap_commits_only_what_two_decodes_agree_on() -> None:
    a = Agreement(CommitPolicy(soft_cap_s=3.0, hard_cap_s=4.0))
    a.update(
        words("we had nothing before us we all go in direct to"), seg_start=0, audio_end=4.1, at_pause=False
    )
    # the two decodes part at the 8th word: the hard cap commits the 7 agreed, cut after "go"
    later = words("we had nothing before us we all going direct to heaven")
    commit = a.update(later, seg_start=0, audio_end=4.3, at_pause=False)
    assert commit is not None and commit.rule == "hard_cap"
    assert " ".join(w.text for w in commit.words) == "we had nothing before us we all"
    assert commit.cut_from == later[6].end and commit.cut_to == later[7].start
    assert [w.text for w in commit.rest][:2] == ["going", "direct"]


def test_words_repeating_the_committed_tail_are_dropped_once() -> None:
    tail = words("Do you integrate with HubSpot?")
    again = words("HubSpot? Do you integrate with HubSpot? We do.", start=1.2)
    assert [w.text for w in strip_repeat(again, tail, near=5.0)][:2] == ["Do", "you"]
    whole = words("Do you integrate with HubSpot? We do.", start=1.2)
    assert [w.text for w in strip_repeat(whole, tail, near=5.0)] == ["We", "do."]
    # far from the cut, the same words are new speech
    assert len(strip_repeat(whole, tail, near=1.0)) == len(whole)


def test_helpers() -> None:
    assert agreed_prefix(words("Yes, we do. And"), words("yes we do and more")) == 4
    assert ends_sentence(Word("HubSpot?", 0, 1, 1)) and ends_sentence(Word('"done."', 0, 1, 1))
    assert not ends_sentence(Word("Mr.", 0, 1, 1)) and not ends_sentence(Word("team,", 0, 1, 1))


def test_nothing_repeated_nothing_dropped_over_a_monologue() -> None:
    """Decodes that grow with the audio (as the channel makes them): the commits and what is left
    at the end are the text, once."""
    text = (
        "It was the best of times, it was the worst of times. It was the age of wisdom, it was "
        "the age of foolishness. It was the epoch of belief, it was the epoch of incredulity and "
        "we had everything before us"
    ).split()
    timed = words(" ".join(text), step=0.35)
    a = Agreement()
    committed: list[str] = []
    done = 0.0
    t = 0.7
    while t < timed[-1].end + 0.5:
        heard = [w for w in timed if w.end <= t and w.end > done + 0.05]
        commit = a.update(a.clean(heard, done), seg_start=done, audio_end=t, at_pause=False)
        if commit is not None:
            committed += [w.text for w in commit.words]
            done = commit.cut_from
            assert commit.words[-1].end - commit.words[0].start <= 8.0
        t = round(t + 0.5, 3)
    committed += [w.text for w in a.clean([w for w in timed if w.end > done + 0.05], done)]
    assert committed == text


def test_whisper_loops_are_cut_to_one_time() -> None:
    def texts(ws: list[Word]) -> str:
        return " ".join(w.text for w in ws)

    twice = list(words("Do you integrate with HubSpot? Do you integrate with HubSpot?"))
    assert texts(drop_loops(twice)) == "Do you integrate with HubSpot?"
    loop = list(words("around 13, 13, 13, 13, 13, 13 dollars"))
    assert texts(drop_loops(loop)) == "around 13, dollars"
    said = list(words("yes, yes, we do. We do integrate."))
    assert drop_loops(said) == said


def test_a_committed_word_heard_again_as_another_word_is_dropped() -> None:
    # real phone speech (real_phone_call seed 0): the final "... to do for them." was cut at
    # 10.76 s; the next decode, with context audio, heard that "them." again as "us." across
    # the cut, then the new sentence
    a = Agreement()
    a.commit_all([Word("for", 10.46, 10.64, 0.9), Word("them.", 10.64, 10.74, 0.9)])
    decoded = (
        Word("us.", 10.66, 10.88, 0.7),
        Word("It", 10.94, 11.02, 0.9),
        Word("was", 11.02, 11.18, 0.9),
    )
    assert [w.text for w in a.clean(decoded, 10.76)] == ["It", "was"]
    # "pocketfully." [17.86-18.50] committed, cut at 18.63; heard again as "leaf." [18.30-18.70]
    b = Agreement()
    b.commit_all([Word("pocketfully.", 17.86, 18.50, 0.8)])
    again = (Word("leaf.", 18.30, 18.70, 0.6), Word("There", 19.26, 19.28, 0.9))
    assert [w.text for w in b.clean(again, 18.63)] == ["There"]


def test_a_new_word_that_only_touches_the_cut_is_kept_once() -> None:
    # timings drift between decodes: a new word may start a little before the cut (and the
    # last committed word's end); it is kept, and only once
    a = Agreement()
    a.commit_all([Word("way.", 47.88, 48.40, 0.9)])
    decoded = (Word("In", 48.36, 48.66, 0.9), Word("short,", 48.66, 49.24, 0.9))
    assert [w.text for w in a.clean(decoded, 48.42)] == ["In", "short,"]
    # a word lying over the committed one by less than half: new speech
    assert [w.text for w in a.clean((Word("It", 48.30, 48.70, 0.9),), 48.42)] == ["It"]
    # the same word heard again with the same text goes by its text
    again = (Word("way.", 47.90, 48.41, 0.9), Word("In", 48.45, 48.66, 0.9))
    assert [w.text for w in a.clean(again, 48.42)] == ["In"]


def test_a_new_word_stretched_back_over_the_context_is_kept() -> None:
    # real phone speech: Whisper skipped the context audio and aligned the first new word
    # from the window's start ("Mr." 2.34-4.42 s over "... worst of time.", cut at 3.88)
    a = Agreement()
    a.commit_all(words("It was the worst of time.", start=2.5, step=0.2))
    decoded = (Word("Mr.", 2.34, 4.42, 0.01), Word("John", 4.5, 4.8, 0.9))
    assert [w.text for w in a.clean(decoded, 3.88)] == ["Mr.", "John"]


def test_a_decode_that_stops_at_a_sentence_before_the_speech_after_it_commits_that_sentence() -> None:
    # espeak call, seed 0: "... what budget did you have in mind for the year." then the other
    # voice for 4 s that Whisper never transcribed; decodes kept repeating the first sentence
    heard = words("What budget did you have in mind for the year.", start=40.9, step=0.3)
    a = Agreement()
    commit = a.update(heard, seg_start=40.9, audio_end=heard[-1].end + 1.2, at_pause=False)
    assert commit is not None and commit.rule == "stopped" and commit.words == heard and not commit.rest
    assert commit.cut_from == heard[-1].end and commit.cut_to > commit.cut_from
    # the words reaching the end of the audio, or a stop that ends no sentence: nothing yet
    assert Agreement().update(heard, seg_start=40.9, audio_end=heard[-1].end + 0.4, at_pause=False) is None
    unfinished = words("What budget did you have in mind for", start=40.9)
    assert Agreement().update(unfinished, seg_start=40.9, audio_end=44.0, at_pause=False) is None
    # a short phrase waits, as at a pause
    assert Agreement().update(words("Sure."), seg_start=0, audio_end=1.5, at_pause=False) is None


def test_a_word_stretched_over_seconds_of_new_speech_is_a_hole_no_commit_spans() -> None:
    # espeak call, seed 0, decoded from the commit at 22.5 s: Whisper skipped "That sounds
    # painful. How do you track ..." and the alignment stretched "We" over 22.5-26.4 s; two
    # decodes agree on it, yet no rule commits it (the skipped speech would be lost)
    later = words("use a possible task. You did it", start=26.4)
    stretched = (Word("We", 22.5, 26.4, 0.04), *later)
    a = Agreement()
    a.previous = stretched
    assert a.update(stretched, seg_start=22.5, audio_end=30.2, at_pause=False) is None
    # a stretched word further on: the commit stops before it
    heard = (*words("That sounds painful.", start=22.5), Word("We", 23.4, 26.4, 0.04), *later)
    b = Agreement()
    b.previous = heard
    commit = b.update(heard, seg_start=22.5, audio_end=30.2, at_pause=False)
    assert commit is not None and [w.text for w in commit.words] == ["That", "sounds", "painful."]
    # stretched back over the context audio before the commit (22.5 s), not over new speech:
    # no hole (real phone speech: "Mr." from 2.3 s over "... worst of times.")
    back = (Word("We", 20.0, 22.9, 0.04), *later)
    c = Agreement()
    c.previous = back
    commit = c.update(back, seg_start=22.5, audio_end=30.2, at_pause=False)
    assert commit is not None and commit.words[0].text == "We"


def _heard_twice(a: Agreement, text: str, audio_end: float) -> tuple[Word, ...]:
    """Two decodes of the same words (as the channel's last two interims): the second's words."""
    first = words(text)
    a.update(first[:-1], seg_start=0, audio_end=audio_end - 0.3, at_pause=False)
    a.update(first, seg_start=0, audio_end=audio_end, at_pause=False)
    return first


def test_a_voice_change_cuts_at_the_sentence_end_nearest_it() -> None:
    # "We use HubSpot." ends at 0.85 s; the other voice's "Great so what" follows
    a = Agreement(CommitPolicy(turn_cuts=True))
    heard = _heard_twice(a, "We use HubSpot. Great so what", 2.0)
    # the diarizer places the change 0.3 s late: the sentence end is still the boundary,
    # before "Great" (nearer the change, no mark)
    i = a.turn_boundary(heard, seg_start=0, audio_end=2.0, change=1.15)
    assert i == 2
    commit = a.at_turn(heard, i, seg_start=0, audio_end=2.0, change=1.15)
    assert commit is not None and commit.rule == "turn"
    assert [w.text for w in commit.words] == ["We", "use", "HubSpot."]
    assert [w.text for w in commit.rest] == ["Great", "so", "what"]
    assert commit.cut_from == heard[2].end and commit.cut_to == heard[3].start


def test_a_voice_change_near_the_last_cut_or_far_from_any_mark_cuts_nothing() -> None:
    a = Agreement(CommitPolicy(turn_cuts=True))
    heard = _heard_twice(a, "Great so what made you", 2.0)
    # the change sits at the last cut (before the first word): cut there already
    assert a.turn_boundary(heard, seg_start=0, audio_end=2.0, change=0.05) == -1
    # no sentence end or comma near a change mid-phrase: no cut
    assert a.turn_boundary(heard, seg_start=0, audio_end=2.0, change=1.2) is None


def test_a_voice_change_cuts_only_through_words_two_decodes_agree_on() -> None:
    a = Agreement(CommitPolicy(turn_cuts=True))
    a.update(words("We use HubSpot"), seg_start=0, audio_end=1.0, at_pause=False)
    heard = words("We use HubSpot. Great so")
    a.update(heard, seg_start=0, audio_end=1.7, at_pause=False)
    # the decode before this one heard "HubSpot" without its period: agreed through it, so
    # the boundary after it is allowed; one word more ("Great") is not agreed
    assert a.turn_boundary(heard, seg_start=0, audio_end=1.7, change=0.9) == 2
    a.update(words("We used HubSpot. Great so"), seg_start=0, audio_end=1.8, at_pause=False)
    heard = words("We use HubSpot. Great so what")
    a.update(heard, seg_start=0, audio_end=2.1, at_pause=False)
    # the two decodes differ at the second word: no boundary after it is agreed
    assert a.turn_boundary(heard, seg_start=0, audio_end=2.1, change=0.9) is None


def test_two_decodes_that_end_at_the_same_sentence_commit_it_before_the_stop_gap() -> None:
    # espeak call, seed 2: "... what budget did you have in mind for this year?" then the other
    # voice, which Whisper leaves out; two decodes in a row end at the same sentence
    heard = words("What budget did you have in mind for this year.", start=39.8, step=0.35)
    a = Agreement()
    assert a.update(heard, seg_start=39.4, audio_end=heard[-1].end + 0.1, at_pause=False) is None
    commit = a.update(heard, seg_start=39.4, audio_end=heard[-1].end + 0.6, at_pause=False)
    assert commit is not None and commit.rule == "settled" and commit.words == heard and not commit.rest
    assert commit.cut_from == heard[-1].end and commit.cut_to > commit.cut_from
    # less speech after it than the settle gap, a word the two decodes do not share, or no
    # sentence end: nothing yet
    b = Agreement()
    b.update(heard, seg_start=39.4, audio_end=heard[-1].end + 0.1, at_pause=False)
    assert b.update(heard, seg_start=39.4, audio_end=heard[-1].end + 0.3, at_pause=False) is None
    c = Agreement()
    c.update(
        words("What budget did you have in mind for his year.", start=39.8, step=0.35),
        seg_start=39.4,
        audio_end=43.4,
        at_pause=False,
    )
    assert c.update(heard, seg_start=39.4, audio_end=heard[-1].end + 0.6, at_pause=False) is None
    unfinished = words("What budget did you have in mind for this", start=39.8, step=0.35)
    d = Agreement()
    d.update(unfinished, seg_start=39.4, audio_end=43.0, at_pause=False)
    assert d.update(unfinished, seg_start=39.4, audio_end=43.6, at_pause=False) is None


def test_a_segment_that_ends_with_no_words_keeps_the_last_decode_to_agree_with() -> None:
    a = Agreement()
    first = words("We use HubSpot for that. Do", start=27.0)
    a.update(first, seg_start=26.6, audio_end=28.9, at_pause=False)
    a.commit_all(())  # the VAD cut the span at an earlier pause: nothing left to emit there
    commit = a.update(
        words("We use HubSpot for that. Do you", start=27.0), seg_start=26.6, audio_end=29.3, at_pause=False
    )
    assert commit is not None and commit.rule == "sentence" and commit.words == first[:5]
    a.commit_all(words("Do you integrate", start=28.5))  # words emitted: nothing left to agree with
    assert a.previous == ()
