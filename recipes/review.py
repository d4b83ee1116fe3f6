"""review: choose, edit or reject the versions several annotators (or sessions) gave of each input."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from vnerteach import Arg, Opt, recipe
from vnerteach.loop.components import Components
from vnerteach.documents import PageImages
from vnerteach.errors import UsageError, VnerteachError
from vnerteach.output import good, info, plural
from vnerteach.datasets.review import REVIEW_VIEW, ReviewInput, auto_answer, check_review_answer, collect, review_task
from vnerteach.store import Store, connect

from .common import check_labels


@recipe("review")
def review(
    dataset: Annotated[str, Arg("Dataset to save the reviewed annotations to")],
    in_datasets: Annotated[list[str], Arg("Datasets to review: several, or one holding several annotators' sessions")],
    label: Annotated[list[str] | None, Opt("Labels of the editor (default: every label of the versions)", "-l")] = None,
    auto_accept: Annotated[bool, Opt("Store inputs every annotator answered the same way without asking")] = False,
    lang: Annotated[str, Opt("Language for tokenizing answers without tokens")] = "en",
    *,
    db: str,
    page_cache: Path,
) -> Components:
    """Review what annotators answered differently: pick a version (keys 1-9), edit it, accept; or reject all.

    Versions of one input are grouped by input hash; who answered is the answer's session (its
    dataset when it has none). Each reviewed input goes to DATASET as a complete annotation with
    the versions it was chosen from, ready for ner.batch-train; inputs already in DATASET are not
    asked again. With --auto-accept, inputs whose versions all agree are stored at once.

    When every input is in DATASET already, it says so and starts no server.

    Example: vnerteach review news_final news-alice,news-bob --auto-accept

    Example: vnerteach review news_final news --label ORG,PERSON
    """
    names = list(dict.fromkeys(in_datasets))
    if dataset in names:
        raise UsageError(f"DATASET '{dataset}' is also an input: save the review to a dataset of its own")
    with connect(db) as store:
        items = _inputs(store, names, lang)
        done = store.hashes([dataset], kind="input") if dataset in store else set()
        todo = [item for item in items if item.input_hash not in done]
        stored = 0
        if auto_accept:
            agreed = [item for item in todo if item.auto]
            stored = store.add_examples((auto_answer(item) for item in agreed), [dataset], skip_duplicates=True)
            todo = [item for item in todo if not item.auto]
            good(f"Auto-accepted {plural(stored, 'input')} every annotator agreed on into '{dataset}'")
    already = len(items) - len(todo) - stored
    if not todo:
        good(f"Nothing left to review: every input of {', '.join(repr(n) for n in names)} is in '{dataset}'")
        return None
    disagreed = sum(not item.agreed for item in todo)
    info(f"{plural(len(todo), 'input')} to review ({disagreed} with different versions)"
         + (f"; {already} already in '{dataset}'" if already else ""))
    labels = check_labels(label, required=False) or list(dict.fromkeys(  # in the order annotators first used them
        s[2] for item in items for v in item.versions for s in (*v.spans, *v.rejected)))
    return {"dataset": dataset, "stream": (review_task(item, names) for item in todo), "view_id": REVIEW_VIEW,
            "config": {"labels": labels}, "exclude_by": "input", "total": len(todo),
            "validate_answer": check_review_answer, "images": PageImages(page_cache)}


def _inputs(store: Store, names: list[str], lang: str) -> list[ReviewInput]:
    """The answered inputs of the datasets with their versions; a clear error when there is nothing to review."""
    for name in names:
        store.get_dataset(name)  # DatasetNotFound names the missing one before anything is read
    from vnerteach.nlp.pipeline import load_pipeline

    items = collect({name: store.iter_examples(name) for name in names}, load_pipeline(f"blank:{lang}"))
    if not items:
        raise VnerteachError(f"Nothing to review: {', '.join(repr(n) for n in names)} "
                             f"{'has' if len(names) == 1 else 'have'} no accepted or rejected answers")
    return items
