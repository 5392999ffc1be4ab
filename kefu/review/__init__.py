"""The review-and-retrain loop: customer messages the bot may have misunderstood, from the
conversations in the tracker store, into a review queue (:mod:`kefu.review.turns`,
:mod:`kefu.review.queue`, personal data masked by :mod:`kefu.review.masking`); annotated by
people in the agent console or in a file; exported into the NLU training data
(:mod:`kefu.review.export`).  Plain Python: the tracker store is read by
``kefu_rasa.review_source``."""
