"""kefu (客服): the shop library behind the kefu assistant.

Plain Python with no Rasa imports: text normalisation, language detection, configuration,
and (later) catalog, orders, recommendations and analytics.
"""

__version__ = "0.1.0"
