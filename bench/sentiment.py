"""Sentiment of customer sentences: accuracy on the held-out labelled set (positive / neutral /
negative) and time per sentence, for the shipped model (VADER + sales lexicon) beside plain
VADER and a logistic-regression classifier on the MiniLM embeddings the agents compute
(trained on the dev set here; its time includes the embedding). Last line: the shipped model."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import ROOT, percentile  # noqa: E402
from wingman.sentiment.model import SentimentModel  # noqa: E402

LABELS = ("negative", "neutral", "positive")


def load(name: str) -> list[tuple[str, str]]:
    data = yaml.safe_load((ROOT / "tests" / "data" / f"sentiment_{name}.yaml").read_text())
    return [(text, label) for label, texts in data.items() for text in texts]


def accuracy(pairs: list[tuple[str, str]], predict: object) -> tuple[float, list[float]]:
    right, ms = 0, []
    for text, label in pairs:
        t0 = time.perf_counter()
        got = predict(text)  # type: ignore[operator]
        ms.append((time.perf_counter() - t0) * 1000)
        right += got == label
    return right / len(pairs), ms


def minilm_classifier(train: list[tuple[str, str]]) -> object:
    from wingman.search.embeddings import Embedder

    embedder = Embedder()
    x = embedder.embed([t for t, _ in train]).astype(np.float64)
    y = np.array([LABELS.index(label) for _, label in train])
    w = np.zeros((x.shape[1], 3))
    b = np.zeros(3)
    onehot = np.eye(3)[y]
    for _ in range(600):  # softmax regression, L2 0.01, plain gradient descent
        z = x @ w + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        w -= 2.0 * (x.T @ (p - onehot) / len(x) + 0.01 * w)
        b -= 2.0 * (p - onehot).mean(axis=0)

    def predict(text: str) -> str:
        v = embedder.embed([text]).astype(np.float64)[0]
        return LABELS[int(np.argmax(v @ w + b))]

    return predict


def main(show: bool) -> None:
    dev, holdout = load("dev"), load("holdout")
    model = SentimentModel()
    for text, _ in dev[:20]:
        model.score(text)  # warm caches
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()

    def plain(text: str) -> str:
        c = vader.polarity_scores(text)["compound"]
        return "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"

    rows = [
        ("VADER (plain)", plain),
        ("MiniLM + logistic regression", minilm_classifier(dev)),
        ("VADER + sales lexicon (shipped)", lambda t: model.score(t).label),
    ]
    shipped: tuple[float, list[float]] = (0.0, [])
    for name, predict in rows:
        dev_acc, _ = accuracy(dev, predict)
        acc, ms = accuracy(holdout, predict)
        print(
            f"{name:34} dev {dev_acc:.3f}  held-out {acc:.3f}  "
            f"ms/sentence p50 {percentile(ms, 0.5):.3f} p95 {percentile(ms, 0.95):.3f}"
        )
        shipped = (acc, ms)
    if show:
        for text, label in holdout:
            got = model.score(text)
            if got.label != label:
                print(f"  {label:8} -> {got.label:8} {got.score:+.2f} {text}")
    acc, ms = shipped
    print(
        f"sentiment_heldout_accuracy={acc:.3f} n={len(holdout)} "
        f"ms_per_sentence_p50={percentile(ms, 0.5):.3f} p95={percentile(ms, 0.95):.3f} "
        "(target >= 0.85, < 5 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print the held-out sentences it gets wrong")
    main(parser.parse_args().show)
