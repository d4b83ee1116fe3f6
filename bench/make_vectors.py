"""Word vectors a user could make from their own unlabelled text, for --vectors: CoNLL-2003 text the benchmark never scores.

No pretrained vectors can be fetched here (en_core_web_md/lg are not on PyPI), so the vectors are trained
with floret (Explosion's fastText with subword hashing, the ``bench`` extra) on CoNLL-2003 sentences that
``bench/annotator_time.py`` neither annotates nor scores for a seed: eng.train without that seed's pool
(its first POOL sentences of >= 3 tokens in the seed's order, as ``conll_corpus`` draws them), about
11,000 sentences; eng.testa, which holds the held-out set, is left out whole. Each token is a word
as the corpus gives it (case kept: spaCy's static vectors are looked up by ORTH).

The vectors are written as a spaCy pipeline folder (``python -m spacy init vectors en FILE OUT --mode floret``
done in Python): any --vectors flag or ``bench/annotator_time.py --vectors`` takes it.

Usage:
  python bench/make_vectors.py --seed 0 --out /tmp/vec/conll-0      # one folder per seed of annotator_time.py
  python bench/make_vectors.py --seed 0 --out DIR --mode default     # a table of whole words (no subwords)
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from common import conll_sentences, data_dir

POOL = 3000  # annotator_time.py's CoNLL pool (SIZES)


def unlabelled_sentences(data: Path, seed: int, pool: int = POOL) -> list[list[str]]:
    """eng.train without the seed's pool: the words of each sentence."""
    train = [s for s in conll_sentences(data / "conll2003" / "eng.train") if len(s[0]) >= 3]
    random.Random(seed).shuffle(train)  # as annotator_time.conll_corpus: its first ``pool`` are annotated
    short = [s for s in conll_sentences(data / "conll2003" / "eng.train") if len(s[0]) < 3]
    return [words for words, _ in train[pool:] + short]


def train_floret(sentences: list[list[str]], out: Path, *, mode: str, dim: int, epochs: int, min_count: int,
                 bucket: int, seed: int) -> dict:
    """Train floret on the sentences and write a spaCy vectors folder to ``out``; what was made."""
    import floret
    import spacy
    from spacy.training.initialize import convert_vectors

    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "text.txt"
        text.write_text("\n".join(" ".join(words) for words in sentences) + "\n", encoding="utf8")
        model = floret.train_unsupervised(str(text), model="cbow", mode=mode, dim=dim, epoch=epochs,
                                          minCount=min_count, minn=3, maxn=5, bucket=bucket, hashCount=2,
                                          thread=1, verbose=0)  # one thread: the same vectors on every run
        vectors = Path(tmp) / ("vectors.floret" if mode == "floret" else "vectors.vec")
        if mode == "floret":
            model.save_floret_vectors(str(vectors))
        else:
            model.save_vectors(str(vectors)) if hasattr(model, "save_vectors") else _save_vec(model, vectors)
        nlp = spacy.blank("en")
        convert_vectors(nlp, vectors, truncate=0, prune=-1, name=f"en_conll_{mode}_{dim}d", mode=mode)
        out.parent.mkdir(parents=True, exist_ok=True)
        nlp.to_disk(out)
    return {"sentences": len(sentences), "words": sum(map(len, sentences)), "vocabulary": len(model.words),
            "rows": nlp.vocab.vectors.shape[0], "dim": dim, "mode": mode}


def _save_vec(model, path: Path) -> None:
    """A word2vec text file of the model's vocabulary (for --mode default)."""
    words = model.words
    with path.open("w", encoding="utf8") as f:
        f.write(f"{len(words)} {model.get_dimension()}\n")
        for w in words:
            f.write(w + " " + " ".join(f"{x:.5f}" for x in model.get_word_vector(w)) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, required=True, help="annotator_time.py's seed whose pool is left out")
    parser.add_argument("--out", type=Path, required=True, help="the spaCy vectors folder to write")
    parser.add_argument("--mode", choices=["floret", "default"], default="floret")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--bucket", type=int, default=20000, help="floret's hash rows (--mode floret)")
    parser.add_argument("--pool", type=int, default=POOL)
    parser.add_argument("--data", type=Path, help="benchmark data folder (default: common.data_dir())")
    args = parser.parse_args(argv)
    if args.data is None:
        args.data = data_dir()
    start = time.perf_counter()
    sentences = unlabelled_sentences(args.data, args.seed, args.pool)
    made = train_floret(sentences, args.out, mode=args.mode, dim=args.dim, epochs=args.epochs,
                        min_count=args.min_count, bucket=args.bucket, seed=args.seed)
    print(f"{args.out}: {made} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
