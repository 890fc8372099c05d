"""The machinery both chains' indexers share (no chain knowledge, no import of either chain).

* ``errors``  - transient / permanent error classes every layer raises and classifies by;
* ``retry``   - the one backoff policy (in-process retries, Celery countdowns, work items);
* ``http`` and ``jsonrpc`` - the JSON-RPC transport: a total deadline per call, a reply size
  cap, and a named error for every malformed reply;
* ``locks``   - the per-chain writer lock (bounded wait) and the session lock of a sync loop;
* ``cursor``  - the chain cursor and its compare-and-set;
* ``work``    - the durable follow-up work table (claimed with compare-and-set, leased).

The chain packages (``indexer.bitcoin``, ``indexer.hemi``) import from here and never from each
other; what joins the chains lives in ``indexer.crosschain``.
"""
