"""kefu's custom actions, split by concern (one module per topic).

Actions stay thin: read slots, ask the ``kefu`` shop library, dispatch responses.
"""
