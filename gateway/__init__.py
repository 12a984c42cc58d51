"""The HTTP gateway (``annotel gateway``): platforms' webhooks and our contract in, events out.

``server`` builds the aiohttp application (routes, authentication, limits,
metrics, the OpenAPI document, access logs); ``connectors`` holds one pure
module per platform (its webhook -> contract events, its signature check);
``sources`` is the connectors file. Every item a request carries is judged
by ``streams.publishing``, the decode path ``annotel ingest`` takes, and
published with the same producer settings and topic routing.

Depends on ``schemas`` and ``streams`` (settings, publishing, the Kafka
producer factory); nothing of ours but the command line imports it.
"""
