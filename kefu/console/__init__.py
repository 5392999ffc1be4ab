"""The agents' console for human hand-off (``kefu agent serve``), in parts:
:mod:`~kefu.console.passwords`, :mod:`~kefu.console.settings`, :mod:`~kefu.console.sessions`,
:mod:`~kefu.console.clients` (the client address behind a trusted proxy),
:mod:`~kefu.console.guard` (lockout, revocations and audit log in the shop database),
:mod:`~kefu.console.rasa`, :mod:`~kefu.console.views`, :mod:`~kefu.console.base`,
:mod:`~kefu.console.login`, :mod:`~kefu.console.tickets` and :mod:`~kefu.console.app`.
:mod:`kefu.agent_console` is its public face."""
