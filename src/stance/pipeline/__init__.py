"""The scoring pipeline, one module per stage, in order:

``reading`` (files → articles) → ``segmentation`` (article → sentences) → ``actors``
(sentence → actor mentions) → ``attribution`` (mentions → who holds the positions) →
``findings`` (the one finding record and the one vote) → ``scoring`` (the stages run
together by :class:`~stance.pipeline.scoring.Scorer`).
"""
