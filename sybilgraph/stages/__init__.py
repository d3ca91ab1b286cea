"""The pipeline's stages, one module each, in the order data flows through them::

    load → observe → link → graph → detect → score → privacy

Each stage takes the handles of the tables it reads and returns a handle naming the
tables it made (:mod:`sybilgraph.stages.tables`).
"""
