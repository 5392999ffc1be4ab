"""Rasa plug-ins for kefu: custom NLU components, policies, channels and stores.

Business logic lives in the ``kefu`` shop library; modules here only adapt it to Rasa's APIs.
"""

from kefu_rasa import speedups

speedups.apply()
