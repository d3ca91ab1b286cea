"""The investigator's objects over a finished run: :class:`Result` and its clusters,
neighbourhoods, link explanations, verdicts and the evaluation against truth labels."""
