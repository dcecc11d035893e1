"""The experiment report: figures (:mod:`.plots`), cost per 1000 queries (:mod:`.cost`), HTML page (:mod:`.html`)."""
