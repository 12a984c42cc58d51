"""Receiver kinds: one module per kind (its settings, checks and message format).

``base`` is the port the dispatcher drives, ``settings`` what every kind's
settings share, ``registry`` the one list of kinds. None of these modules does
I/O or imports a network client.
"""
