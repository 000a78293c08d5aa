"""One figure number for the framework copies of one figure.

On a page made from a split source notebook (tools/frameworks.py), a shared cell whose
figure differs between the frameworks is stored twice, the TensorFlow copy's figure named
``NAME-tensorflow`` (labels must be unique), and shown in synced tabs. Sphinx would number
the two copies as two figures (Fig. 3 in the PyTorch tab, Fig. 4 in the TensorFlow tab, the
next figure Fig. 5). After Sphinx has numbered the figures, this gives each ``NAME-tensorflow``
the number of ``NAME`` and closes the gap, so both readers see the same numbers, and
``{numref}`` to ``NAME`` matches either tab.
"""

from __future__ import annotations

from itertools import groupby

__all__ = ["SUFFIX", "share_numbers", "setup"]

SUFFIX = "-tensorflow"


def share_numbers(fignumbers: dict) -> None:
    """Renumber ``env.toc_fignumbers`` (docname -> figtype -> id -> number tuple) in place."""
    entries = [
        (number, doc, figtype, figure_id)
        for doc, types in fignumbers.items()
        for figtype, ids in types.items()
        for figure_id, number in ids.items()
    ]
    twins = {
        (doc, figtype, figure_id)
        for _, doc, figtype, figure_id in entries
        if figure_id.endswith(SUFFIX) and figure_id[: -len(SUFFIX)] in fignumbers[doc][figtype]
    }
    if not twins:
        return
    key = lambda entry: (entry[2], entry[0][:-1])  # figtype and section prefix
    for _, group in groupby(sorted(entries, key=lambda e: (key(e), e[0])), key=key):
        counter = 0
        for number, doc, figtype, figure_id in group:
            if (doc, figtype, figure_id) in twins:
                continue
            counter += 1
            fignumbers[doc][figtype][figure_id] = (*number[:-1], counter)
    for doc, figtype, figure_id in twins:
        fignumbers[doc][figtype][figure_id] = fignumbers[doc][figtype][figure_id[: -len(SUFFIX)]]


def _env_get_updated(app, env) -> list[str]:
    share_numbers(env.toc_fignumbers)
    return []


def setup(app) -> None:
    app.connect("env-get-updated", _env_get_updated, priority=900)  # after Sphinx's numbering
